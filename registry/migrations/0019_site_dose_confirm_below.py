"""Each site's lower daily dose that needs a confirmation (docs/clinical-facts.md, "Drug").

The column is added with plain ``ADD COLUMN``: on SQLite, Django would rebuild the site table,
which drops the data-version triggers on it (as in 0014).
"""

from decimal import Decimal

import django.core.validators
from django.db import migrations, models

DOSE_CONFIRM_BELOW = models.DecimalField(
    decimal_places=2,
    default=Decimal("20"),
    help_text="A daily dose below this needs an explicit confirmation (docs/clinical-facts.md).",
    max_digits=7,
    validators=[django.core.validators.MinValueValidator(Decimal("0"), "Cannot be negative.")],
    verbose_name="confirm a daily dose below (mcg)",
)
DOSE_CONFIRM_ABOVE = models.DecimalField(
    decimal_places=2, default=Decimal("1500"), max_digits=7, verbose_name="confirm a daily dose above (mcg)"
)


class Migration(migrations.Migration):
    dependencies = [("registry", "0018_entered_in_error_calendar_feed")]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    "ALTER TABLE registry_site ADD COLUMN dose_confirm_below_mcg decimal(7, 2) NOT NULL DEFAULT 20",
                    "ALTER TABLE registry_site DROP COLUMN dose_confirm_below_mcg",
                )
            ],
            state_operations=[
                migrations.AddField(model_name="site", name="dose_confirm_below_mcg", field=DOSE_CONFIRM_BELOW),
                migrations.AlterField(model_name="site", name="dose_confirm_above_mcg", field=DOSE_CONFIRM_ABOVE),
            ],
        )
    ]
