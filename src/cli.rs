//! The subcommands: `serve` (default), `migrate`, `user create`, `token create`, `seed`.
//! Each change goes through the service layer, as from the pages and the API.

use std::io::Read;

use anyhow::Context;

use crate::config::{
    Cli, Command, ServeArgs, ServiceCommand, ServiceCreateArgs, Settings, TokenCommand, TokenCreateArgs,
    UserCommand, UserCreateArgs, normalize_database_url,
};
use crate::db;
use crate::domain::{DisplayName, Email, EnrollmentRole, Login, Password};
use crate::models::{AccountRole, NewUserData, User};
use crate::services::{self, Actor, Via};

pub fn run(cli: Cli) -> anyhow::Result<()> {
    let database_url = normalize_database_url(&cli.global.database_url);
    match cli.command {
        None => serve(database_url, cli.serve),
        Some(Command::Serve(args)) => serve(database_url, *args),
        Some(Command::Migrate) => {
            let mut conn = db::connect(&database_url)?;
            let n = db::run_migrations(&mut conn)?;
            println!("{n} migration(s) applied");
            if let Some(capped) = services::tokens::apply_upgrade_cap(&mut conn)? {
                println!("student maximum applied to existing tokens: {capped} token(s) capped");
            }
            Ok(())
        }
        Some(Command::User(UserCommand::Create(args))) => {
            let mut password = String::new();
            std::io::stdin()
                .read_to_string(&mut password)
                .context("could not read the password from stdin")?;
            let password = password.strip_suffix('\n').unwrap_or(&password);
            let password = password.strip_suffix('\r').unwrap_or(password);
            let user = create_user(&database_url, &args, password)?;
            println!("created user {} (id {})", user.login, user.id);
            Ok(())
        }
        Some(Command::Token(TokenCommand::Create(args))) => {
            let issued = create_token(&database_url, &args)?;
            // The secret alone on stdout, so that scripts can capture it.
            println!("{}", issued.secret.expose());
            Ok(())
        }
        Some(Command::Service(ServiceCommand::Create(args))) => {
            let registered = create_service(&database_url, &args)?;
            // The credential alone on stdout, so that scripts can capture it.
            println!("{}", registered.credential.expose());
            Ok(())
        }
        Some(Command::Seed(args)) => {
            let mut conn = db::connect(&database_url)?;
            db::run_migrations(&mut conn)?;
            let report = crate::seed::run(&mut conn, args.users, args.tokens_per_user)?;
            println!("{report}");
            Ok(())
        }
    }
}

/// The messages of a refused operation, one per line (`field: message` for input errors).
fn refused(e: services::Error) -> anyhow::Error {
    match e {
        services::Error::Invalid(errors) => anyhow::anyhow!(
            "{}",
            errors.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("\n")
        ),
        other => anyhow::anyhow!("{other}"),
    }
}

/// `token create`: the owner acts for themself, under the rules of the web form.
pub fn create_token(
    database_url: &str,
    args: &TokenCreateArgs,
) -> anyhow::Result<crate::services::tokens::Issued> {
    use crate::domain::token::ExpiryChoice;
    use crate::services::tokens::{self, TokenDraft};

    let login = Login::parse(&args.login)?;
    let mut conn = db::connect(database_url)?;
    db::run_migrations(&mut conn)?;
    let owner = User::find_by_login(&mut conn, &login)?
        .with_context(|| format!("no user with the login '{login}'"))?;
    let roles = User::roles(&mut conn, owner.id)?;
    let actor = Actor::user(owner.id, roles.permissions(), roles.is_student_only(), Via::Cli, None);
    let expiry = match args.expires_in_days {
        Some(d) if d >= 1 => ExpiryChoice::At(crate::domain::now() + chrono::Duration::days(d)),
        Some(_) => anyhow::bail!("--expires-in-days must be at least 1"),
        None => ExpiryChoice::Never,
    };
    let draft = TokenDraft {
        purpose: Some(args.purpose.clone()),
        scopes: Some(args.scopes.clone()),
        expiry: Some(Ok(expiry)),
    };
    tokens::create(&mut conn, &actor, owner.id, &draft).map_err(refused)
}

/// `service create`: the operator registers a service under the rules of the admin page.
pub fn create_service(
    database_url: &str,
    args: &ServiceCreateArgs,
) -> anyhow::Result<crate::services::registry::Registered> {
    use crate::services::registry::{self, ServiceInput};
    let holders_of = |scope: &str| {
        let name = scope.rsplit(':').next().unwrap_or(scope);
        args.holders
            .iter()
            .filter_map(|h| h.split_once('='))
            .find(|(s, _)| s.trim() == scope || s.trim().rsplit(':').next() == Some(name))
            .map(|(_, roles)| roles.to_owned())
            .unwrap_or_default()
    };
    let scopes = args
        .scopes
        .iter()
        .map(|s| {
            let (scope, label) = s.split_once('=').unwrap_or((s, ""));
            (scope.trim().to_owned(), label.trim().to_owned(), holders_of(scope.trim()))
        })
        .collect();
    let input = ServiceInput {
        slug: args.slug.clone(),
        name: args.name.clone(),
        description: args.description.clone(),
        accept_unscoped: args.accept_unscoped,
        scopes,
        rules: args.rules.clone(),
    };
    let mut conn = db::connect(database_url)?;
    db::run_migrations(&mut conn)?;
    registry::create(&mut conn, &Actor::operator(), &input).map_err(refused)
}

fn serve(database_url: String, args: ServeArgs) -> anyhow::Result<()> {
    crate::startup::tune_allocator();
    crate::startup::survive_file_size_limits();
    let session_key = crate::config::resolve_session_key(&args, &database_url)?;
    let settings = Settings { database_url, serve: args, session_key };
    actix_web::rt::System::new().block_on(async move {
        let app = crate::startup::Application::build(settings).await?;
        tracing::info!(port = app.port(), "tokenwarden is listening");
        app.run_until_stopped().await.context("the server stopped with an error")
    })
}

/// `user create`: every field is parsed by the same rules as the pages; the operator acts.
pub fn create_user(database_url: &str, args: &UserCreateArgs, password: &str) -> anyhow::Result<User> {
    let login = Login::parse(&args.login)?;
    let name = DisplayName::parse(&args.name)?;
    let email = Email::parse(&args.email)?;
    let password = Password::parse(password)?;
    let roles = args
        .roles
        .iter()
        .map(|r| {
            EnrollmentRole::parse(r).with_context(|| {
                format!("unknown role '{r}': use student, teacher, ta, designer or observer")
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut conn = db::connect(database_url)?;
    db::run_migrations(&mut conn)?;
    let account_role_ids = args
        .account_roles
        .iter()
        .map(|name| {
            AccountRole::find_by_name(&mut conn, name)?
                .map(|r| r.id)
                .with_context(|| format!("unknown account role '{name}'"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let password_hash = crate::auth::password::hash(password.expose())?;
    let data = NewUserData { login, name, email, password_hash, roles, account_role_ids };
    services::users::create(&mut conn, &Actor::operator(), &data).map_err(refused)
}
