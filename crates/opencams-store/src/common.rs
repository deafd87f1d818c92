//! What both backends share below the SQL: id generation, the additional data that binds each
//! sealed secret to its row, and the text forms of list columns.
