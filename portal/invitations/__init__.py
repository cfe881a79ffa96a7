"""Company invitations: the invitee's side (accept with a new account, or confirm)."""
