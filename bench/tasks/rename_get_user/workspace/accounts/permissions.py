from accounts.store import get_usr


def is_admin(user_id):
    return get_usr(user_id)["admin"]


def can_edit(user_id, owner_id):
    return user_id == owner_id or is_admin(user_id)
