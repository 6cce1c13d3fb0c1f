"""Sites may require a second factor of their staff.

SQLite rebuilds the site table to add the column, which drops the triggers on it (the data
version's); every trigger naming the table is saved and dropped first and created again, from the
very same SQL, last (as 0018 does). PostgreSQL adds the column in place and keeps its triggers.
"""

from django.db import migrations, models

from registry.migrations._sqlite_triggers import SavedTriggers

_TRIGGERS = SavedTriggers("registry_site")


class Migration(migrations.Migration):

    dependencies = [
        ('registry', '0021_site_names_on_one_line'),
    ]

    operations = [
        migrations.RunPython(_TRIGGERS.drop, _TRIGGERS.restore),
        migrations.AddField(
            model_name='site',
            name='require_two_factor',
            field=models.BooleanField(default=False, help_text='Staff of this site log in with a second factor (an authenticator app). Administrators always do.'),
        ),
        migrations.RunPython(_TRIGGERS.restore, _TRIGGERS.drop),
    ]
