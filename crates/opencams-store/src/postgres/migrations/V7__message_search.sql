-- A user's messages and a TaskId's, newest first, as index ranges (the console's search and
-- ListChatappMessage); the TaskId index holds only the messages that have one.
CREATE INDEX messages_recipient ON messages(space_id, recipient, created_at);
CREATE INDEX messages_task ON messages(space_id, task_id, created_at) WHERE task_id IS NOT NULL;
