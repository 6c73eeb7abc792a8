-- The staff door (issue 24): wrong passwords at the dashboard's sign-in are recorded in the staff log
-- (staff_actions, action 'sign_in', not succeeded: the name given, the address it came from), and an
-- address's attempts are limited by counting its recent wrong passwords there. This index finds them (a
-- partial index: only failed sign-ins, a small part of the log).
CREATE INDEX idx_staff_actions_failed_sign_ins ON staff_actions (target, acted_at DESC)
    WHERE action = 'sign_in' AND NOT succeeded;
