"""`python manage.py create_org NAME --admin USERNAME --password P`: an organisation and its first staff user."""

from django.core.management.base import BaseCommand, CommandError

from write_service.accounts.services import organisation_create
from write_service.platform.errors import ServiceError


class Command(BaseCommand):
    help = "Create an organisation with its first staff user."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--admin", required=True, help="username of the first staff user")
        parser.add_argument("--password", required=True)

    def handle(self, *args, name, admin, password, **options):
        try:
            organisation, user = organisation_create(name=name, admin_username=admin, admin_password=password)
        except ServiceError as exc:
            messages = "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in exc.errors.items())
            raise CommandError(messages) from None
        self.stdout.write(
            f"created organisation {organisation.name} (id {organisation.pk}) with staff user {user.username} (id "
            f"{user.pk})"
        )
