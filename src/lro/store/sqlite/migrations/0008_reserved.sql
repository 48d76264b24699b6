-- Reserved: this number belongs to a migration of a branch being written in parallel
-- (issues 15 and 16). It changes nothing, so that the flows migration can keep the number
-- it was given; drop this file when the branches are merged and renumbered.
SELECT 1;
