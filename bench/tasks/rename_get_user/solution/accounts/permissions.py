from accounts.store import get_user


def is_admin(user_id):
    return get_user(user_id)["admin"]


def can_edit(user_id, owner_id):
    return user_id == owner_id or is_admin(user_id)
