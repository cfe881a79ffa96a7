"""The signed-in user's notifications (channel alerts) and the unread badge."""
