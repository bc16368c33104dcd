DROP INDEX scim_groups_display_name_ci_idx;
DROP TABLE scim_users;
