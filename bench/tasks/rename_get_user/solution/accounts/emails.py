from accounts import store


def address_line(user_id):
    user = store.get_user(user_id)
    return f"{user['name']} <{user['email']}>"
