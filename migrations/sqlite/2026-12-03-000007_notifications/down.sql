DROP TABLE notification_preferences;
DROP TABLE token_reminders;
DROP TABLE notifications;
DROP TABLE webhook_endpoints;
