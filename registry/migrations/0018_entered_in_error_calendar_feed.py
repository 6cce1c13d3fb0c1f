"""Records entered in error (kept, left out of every read) and calendar links.

SQLite cannot add a NOT NULL column or change a constraint in place: Django rebuilds the refill and
dose-change tables, which drops the triggers on them and trips over the triggers that name them.
So on SQLite every trigger naming either table is saved and dropped first, and created again,
from the very same SQL, last. PostgreSQL alters the tables in place and keeps its triggers.
"""


import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from registry.migrations._sqlite_triggers import SavedTriggers


_TRIGGERS = SavedTriggers("registry_refill", "registry_dosechange")


class Migration(migrations.Migration):

    dependencies = [
        ('registry', '0017_refill_appointments_contacts'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(_TRIGGERS.drop, _TRIGGERS.restore),
        migrations.CreateModel(
            name='CalendarFeed',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('token_digest', models.CharField(editable=False, max_length=64, unique=True)),
                ('created_at', models.DateTimeField(auto_now=True)),
            ],
        ),
        migrations.RemoveConstraint(
            model_name='dosechange',
            name='dose_change_unique_time_per_pump',
        ),
        migrations.RemoveConstraint(
            model_name='refill',
            name='refill_unique_time_per_pump',
        ),
        migrations.AddField(
            model_name='dosechange',
            name='entered_in_error',
            field=models.BooleanField(default=False, editable=False),
        ),
        migrations.AddField(
            model_name='dosechange',
            name='error_marked_at',
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name='dosechange',
            name='error_marked_by',
            field=models.ForeignKey(blank=True, editable=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name='dosechange',
            name='error_reason',
            field=models.CharField(blank=True, editable=False, max_length=300, verbose_name='what was wrong'),
        ),
        migrations.AddField(
            model_name='historicaldosechange',
            name='entered_in_error',
            field=models.BooleanField(default=False, editable=False),
        ),
        migrations.AddField(
            model_name='historicaldosechange',
            name='error_marked_at',
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name='historicaldosechange',
            name='error_marked_by',
            field=models.ForeignKey(blank=True, db_constraint=False, editable=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name='historicaldosechange',
            name='error_reason',
            field=models.CharField(blank=True, editable=False, max_length=300, verbose_name='what was wrong'),
        ),
        migrations.AddField(
            model_name='historicalrefill',
            name='entered_in_error',
            field=models.BooleanField(default=False, editable=False),
        ),
        migrations.AddField(
            model_name='historicalrefill',
            name='error_marked_at',
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name='historicalrefill',
            name='error_marked_by',
            field=models.ForeignKey(blank=True, db_constraint=False, editable=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name='historicalrefill',
            name='error_reason',
            field=models.CharField(blank=True, editable=False, max_length=300, verbose_name='what was wrong'),
        ),
        migrations.AddField(
            model_name='refill',
            name='entered_in_error',
            field=models.BooleanField(default=False, editable=False),
        ),
        migrations.AddField(
            model_name='refill',
            name='error_marked_at',
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name='refill',
            name='error_marked_by',
            field=models.ForeignKey(blank=True, editable=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name='refill',
            name='error_reason',
            field=models.CharField(blank=True, editable=False, max_length=300, verbose_name='what was wrong'),
        ),
        migrations.AddConstraint(
            model_name='dosechange',
            constraint=models.UniqueConstraint(condition=models.Q(('entered_in_error', False)), fields=('pump', 'effective_at'), name='dose_change_unique_time_per_pump'),
        ),
        migrations.AddConstraint(
            model_name='refill',
            constraint=models.UniqueConstraint(condition=models.Q(('entered_in_error', False)), fields=('pump', 'performed_at'), name='refill_unique_time_per_pump'),
        ),
        migrations.AddField(
            model_name='calendarfeed',
            name='user',
            field=models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='calendar_feed', to=settings.AUTH_USER_MODEL),
        ),
        migrations.RunPython(_TRIGGERS.restore, _TRIGGERS.drop),
    ]
