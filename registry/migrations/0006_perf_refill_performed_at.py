"""An index on Refill.performed_at: the program report reads one period's refills.

Without it the report's refill counts and its interval window scan every refill ever recorded
(about 2 million at 100,000 patients) and filter on a per-time-zone CASE no index serves.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("registry", "0005_follow_up_superseded_index"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="refill",
            index=models.Index(fields=["performed_at"], name="refill_performed_at_idx"),
        ),
    ]
