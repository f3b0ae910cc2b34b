from accounts.emails import address_line
from accounts.permissions import can_edit, is_admin
from accounts.store import get_user

for uid in (1, 2, 3):
    print(get_user(uid)["name"], address_line(uid), is_admin(uid), can_edit(uid, 2))
