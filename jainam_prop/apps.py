from django.apps import AppConfig


class JainamPropConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "jainam_prop"
    verbose_name = "Jainam Prop instruments"

    def ready(self) -> None:
        from jainam_prop import checks  # noqa: F401  (registers the settings checks)
