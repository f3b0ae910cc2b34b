USERS = {
    1: {"name": "ada", "email": "ada@example.org", "admin": True},
    2: {"name": "linus", "email": "linus@example.org", "admin": False},
    3: {"name": "grace", "email": "grace@example.org", "admin": False},
}


def get_user(user_id):
    """The user record for an id; KeyError when there is none."""
    return USERS[user_id]
