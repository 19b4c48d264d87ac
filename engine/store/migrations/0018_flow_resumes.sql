-- Answers to a flow's approval step (Windmill's resume_job), one per
-- resume link used: the suspended step's job is the wait they answer, the
-- resume_id the nonce of the link (each link answers once). They live
-- apart from the flow's status, which only the running flow writes, so an
-- answer can arrive at any time: while the step still runs, while the
-- flow is woken by another answer, across a restart.
CREATE TABLE flow_resumes (
    step_job   TEXT NOT NULL,
    resume_id  INTEGER NOT NULL,
    flow_job   TEXT NOT NULL,
    approver   TEXT NOT NULL,
    approved   INTEGER NOT NULL,
    value      TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (step_job, resume_id)
);

-- The end of a wait, written in the same transaction that read the
-- answers it counted: an answer is either counted or refused, never
-- accepted and then ignored.
CREATE TABLE flow_waits_ended (
    step_job TEXT PRIMARY KEY,
    how      TEXT NOT NULL CHECK (how IN ('approved', 'canceled', 'timed out')),
    ended_at INTEGER NOT NULL
);

CREATE TRIGGER flow_resumes_gone AFTER DELETE ON jobs BEGIN
    DELETE FROM flow_resumes WHERE step_job = old.id;
    DELETE FROM flow_waits_ended WHERE step_job = old.id;
END;
