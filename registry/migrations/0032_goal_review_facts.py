"""The goal's patient, category, weight and date set, copied onto each of its reviews by triggers.

The goal attainment figures read each goal's latest review in the period with its goal's category
and weight; joining the reviews to every goal took about 100 ms of the summary at 100,000 patients.
With the copies the period's reviews are read from ``goal_review_day_cover_idx`` alone. The
triggers are ``registry/migrations/_report_facts.py``; the reviews already written are filled once
before they are created. SQLite rebuilds the table for the text column: its triggers are saved
around it.
"""

import django.db.models.deletion
from django.db import migrations, models

from registry.migrations import _report_facts
from registry.migrations._sqlite_triggers import SavedTriggers

_TRIGGERS = SavedTriggers("registry_goalreview")


class Migration(migrations.Migration):

    dependencies = [
        ('registry', '0031_report_facts'),
    ]

    operations = [
        migrations.RunPython(_TRIGGERS.drop, _TRIGGERS.restore),
        migrations.RemoveIndex(
            model_name='goalreview',
            name='goal_review_day_cover_idx',
        ),
        migrations.AddField(
            model_name='goalreview',
            name='category',
            field=models.CharField(blank=True, editable=False, max_length=20),
        ),
        migrations.AddField(
            model_name='goalreview',
            name='goal_set_on',
            field=models.DateField(editable=False, null=True),
        ),
        migrations.AddField(
            model_name='goalreview',
            name='patient',
            field=models.ForeignKey(db_constraint=False, db_index=False, editable=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='registry.patient'),
        ),
        migrations.AddField(
            model_name='goalreview',
            name='weight',
            field=models.PositiveSmallIntegerField(editable=False, null=True),
        ),
        migrations.RunPython(_TRIGGERS.restore, _TRIGGERS.drop),
        migrations.RunPython(_report_facts.create_goal_copies, _report_facts.drop_goal_copies),
        migrations.AddIndex(
            model_name='goalreview',
            index=models.Index(fields=['reviewed_on'], include=('goal', 'score', 'superseded_on', 'patient', 'category', 'weight', 'goal_set_on'), name='goal_review_day_cover_idx'),
        ),
    ]
