"""``manage.py create_api_key USERNAME``: create an OpenAlgo API key and show it once."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from jainam_prop.services.api_keys import create_api_key


class Command(BaseCommand):
    help = (
        "Create an API key for a Django user and print it once (only its hash is stored). "
        "Clients send it as 'apikey' in the JSON body. Revoke keys in the admin."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username", help="The Django user the key belongs to.")
        parser.add_argument(
            "--name", default="", help="A label to recognise the key, e.g. the strategy host."
        )

    def handle(self, *args, **options) -> None:
        username = options["username"]
        name = options["name"]
        if len(name) > 64:
            raise CommandError("--name must be at most 64 characters")
        user_model = get_user_model()
        try:
            user = user_model.objects.get(**{user_model.USERNAME_FIELD: username})
        except user_model.DoesNotExist:
            raise CommandError(
                f"No user {username!r}. Create one first: manage.py createsuperuser "
                f"--username {username} (or add the user in the admin)."
            ) from None
        if not user.is_active:
            raise CommandError(f"User {username!r} is inactive: its keys would be refused.")
        api_key, raw_key = create_api_key(user=user, name=name)
        self.stdout.write(raw_key)
        self.stderr.write(
            f"Created API key {api_key.prefix}… (id {api_key.pk}) for {username}"
            f"{f' ({name})' if name else ''}. It is shown only this once: store it now."
        )
