DROP TABLE token_usage;
DROP TABLE service_rules;
DROP TABLE service_scopes;
DROP TABLE services;
