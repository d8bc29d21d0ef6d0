-- skipped_objects.sql: objects that are not event objects (other names, and the users/
-- directory), over every run. Inputs: objects. Output: one number.
SELECT count(*) FROM objects WHERE format IN ('skipped', 'users');
