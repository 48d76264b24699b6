-- Withdraw a worker's hand-off offer. A = {worker_id}. 1: it was there; 0: a submit took
-- it first (or there was none).
return drop_park(A.worker_id) and 1 or 0
