ALTER TABLE account_settings DROP COLUMN student_cap_applied_at;
