ALTER TABLE account_settings DROP COLUMN session_key_check;
