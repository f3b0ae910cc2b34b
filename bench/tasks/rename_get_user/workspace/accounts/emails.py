from accounts import store


def address_line(user_id):
    user = store.get_usr(user_id)
    return f"{user['name']} <{user['email']}>"
