-- When the retroactive student cap (SPEC 4.3) was applied to the data that existed when
-- the rule was introduced; NULL until `tokenwarden migrate` (or the first start) applies it.
ALTER TABLE account_settings ADD COLUMN student_cap_applied_at TIMESTAMP;
