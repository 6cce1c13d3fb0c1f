"""A partial index of the patients whose due date could not be projected (``needs_attention``).

The worklist's "needs attention" section walked every patient with a due date and kept the few
with that basis; a clinic's page, or a small program, reaches that section on its first page.
"""

from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('registry', '0026_stored_next_dates'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddIndex(
            model_name='patient',
            index=models.Index(condition=models.Q(('refill_due_basis', 'needs_attention')), fields=['next_refill_due', 'id'], name='patient_needs_attention_idx'),
        ),
    ]
