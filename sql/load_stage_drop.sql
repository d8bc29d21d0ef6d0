-- load_stage_drop.sql: forget the staged lines of one object (its stream broke half way:
-- the object is recorded as unreadable instead).
-- Inputs: $1 obj_no. Outputs: its rows of stage_lines deleted.
DELETE FROM stage_lines WHERE obj_no = $1;
