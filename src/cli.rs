//! The subcommands: `serve` (default), `migrate`, `user create`, `user import`, `token
//! create`, `service create`, `provisioning-credential create`, `webhook create`, `seed`.
//! Each change goes through the service layer, as from the pages and the API.

use std::io::Read;

use anyhow::Context;

use crate::config::{
    Cli, Command, ProvisioningCredentialCommand, ServeArgs, ServiceCommand, ServiceCreateArgs, Settings,
    TokenCommand, TokenCreateArgs, UserCommand, UserCreateArgs, UserImportArgs, WebhookCommand,
    WebhookCreateArgs, normalize_database_url,
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
            println!("{} applied", crate::domain::count(n, "migration", "migrations"));
            if let Some(capped) = services::tokens::apply_upgrade_cap(&mut conn)? {
                println!(
                    "student maximum applied to existing tokens: {} capped",
                    crate::domain::count(capped, "token", "tokens")
                );
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
        Some(Command::User(UserCommand::Import(args))) => import_users(&database_url, &args),
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
        Some(Command::ProvisioningCredential(ProvisioningCredentialCommand::Create(args))) => {
            let issued = create_provisioning_credential(&database_url, &args.purpose)?;
            // The credential alone on stdout, so that scripts can capture it.
            println!("{}", issued.secret.expose());
            Ok(())
        }
        Some(Command::Webhook(WebhookCommand::Create(args))) => {
            // The secret is sealed with the server's session key: the same key `serve` uses.
            let given = args.session_key.as_deref().or(cli.serve.session_key.as_deref());
            let key = crate::config::existing_session_key(given, &database_url)?;
            let registered = create_webhook(&database_url, &key, &args)?;
            // The signing secret alone on stdout, so that scripts can capture it.
            println!("{}", registered.secret.expose());
            Ok(())
        }
        Some(Command::Seed(args)) => {
            let mut conn = db::connect(&database_url)?;
            db::run_migrations(&mut conn)?;
            let report =
                crate::seed::run(&mut conn, args.users, args.tokens_per_user, !args.without_history)?;
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
            errors
                .iter()
                // A many-line refusal (route rules, one line each) keeps its field on every line.
                .flat_map(|e| e.message.lines().map(move |line| format!("{}: {line}", e.field)))
                .collect::<Vec<_>>()
                .join("\n")
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
        // Days, not a moment: the rules resolve them, refusing a number past what a date holds.
        Some(d) if d >= 1 => ExpiryChoice::Days(d),
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

/// `provisioning-credential create`: the operator issues a SCIM credential. The operator
/// holds every permission, so whatever the role map gives, the grant rule lets them.
pub fn create_provisioning_credential(
    database_url: &str,
    purpose: &str,
) -> anyhow::Result<crate::services::provisioning::IssuedCredential> {
    let mut conn = db::connect(database_url)?;
    db::run_migrations(&mut conn)?;
    let map = crate::domain::people::RoleMap::default();
    services::provisioning::create_credential(&mut conn, &Actor::operator(), &map, purpose).map_err(refused)
}

/// `webhook create`: the operator registers an endpoint under the rules of the admin page.
pub fn create_webhook(
    database_url: &str,
    session_key: &[u8],
    args: &WebhookCreateArgs,
) -> anyhow::Result<crate::services::notifications::Registered> {
    use crate::services::notifications::{self, EndpointInput};
    let input = EndpointInput {
        url: args.url.clone(),
        description: args.description.clone(),
        events: args.events.clone(),
        enabled: true,
    };
    let mut conn = db::connect(database_url)?;
    db::run_migrations(&mut conn)?;
    // The server records the check of its key at start: a key with another check is not
    // the server's, and what it sealed the server could not open.
    if let Some(check) = crate::models::AccountSettings::session_key_check(&mut conn)? {
        anyhow::ensure!(
            check == notifications::session_key_check(session_key),
            "this session key is not the one the server last started with. Give the key `serve` uses \
             (TOKENWARDEN_SESSION_KEY or --session-key), or run where its key file is"
        );
    }
    let reach = crate::domain::net::OutboundReach::new(args.webhook_allow_networks.clone());
    notifications::create_endpoint(&mut conn, &Actor::operator(), &reach, session_key, &input)
        .map_err(refused)
}

fn serve(database_url: String, args: ServeArgs) -> anyhow::Result<()> {
    crate::startup::tune_allocator();
    crate::startup::tune_sqlite();
    crate::startup::survive_file_size_limits();
    actix_web::rt::System::new().block_on(async move {
        // Settings that contradict each other stop the start before anything is written:
        // no key file, no migration, no setup code.
        crate::startup::check_settings(&args)?;
        let session_key = crate::config::resolve_session_key(&args, &database_url)?;
        let settings = Settings { database_url, serve: args, session_key };
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
            // By name as the web, the import and the role map find roles: case and spacing
            // do not count.
            AccountRole::all(&mut conn)?
                .into_iter()
                .find(|r| crate::domain::text::same_name(&r.name, name))
                .map(|r| r.id)
                .with_context(|| format!("unknown account role '{name}'"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let password_hash = crate::auth::password::hash(password.expose())?;
    let data = NewUserData { login, name, email, password_hash, roles, account_role_ids };
    services::users::create(&mut conn, &Actor::operator(), &data).map_err(refused)
}

/// `user import`: the web import's rules and code, as the operator. Prints the preview; with
/// any bad line nothing is applied and the exit code is non-zero; else it applies all of it
/// (unless `--dry-run`).
pub fn import_users(database_url: &str, args: &UserImportArgs) -> anyhow::Result<()> {
    use crate::domain::people_import::MAX_BYTES;
    use crate::services::import::{self, Outcome};
    use crate::views::people::{PlanView, summary_sentence};

    let shown = args.csv.display().to_string();
    let size = std::fs::metadata(&args.csv).with_context(|| format!("could not read {shown}"))?.len();
    anyhow::ensure!(
        size <= MAX_BYTES as u64,
        "{shown} is larger than {} KiB: split it into smaller files and import them one after another",
        MAX_BYTES / 1024
    );
    let content = std::fs::read(&args.csv).with_context(|| format!("could not read {shown}"))?;
    let mut conn = db::connect(database_url)?;
    db::run_migrations(&mut conn)?;
    let actor = Actor::operator();
    let plan = import::plan(&mut conn, &actor, &content).map_err(refused)?;
    let view = PlanView::of(&plan);
    println!("{shown}: {}", view.counts());
    print!("{}", view.text());
    anyhow::ensure!(
        plan.is_clean(),
        "{} in {shown}: nothing was applied",
        crate::domain::count(plan.bad.len(), "bad line", "bad lines")
    );
    if args.dry_run {
        println!("\nDry run: nothing was applied.");
        return Ok(());
    }
    let source =
        format!("file “{}” (command line)", args.csv.file_name().unwrap_or_default().to_string_lossy());
    match import::apply(&mut conn, &actor, &content, &source).map_err(refused)? {
        Outcome::Applied(summary) => {
            println!("\nApplied: {}", summary_sentence(&summary));
            Ok(())
        }
        Outcome::Refused(plan) => {
            // Only what changed since the preview above: the lines refused now.
            let n = plan.bad.len();
            let bad = import::Plan { bad: plan.bad, role_names: plan.role_names, ..import::Plan::default() };
            print!("{}", PlanView::of(&bad).text());
            anyhow::bail!(
                "{} in {shown}: nothing was applied",
                crate::domain::count(n, "bad line", "bad lines")
            )
        }
    }
}
