"""The dates the report reads instead of comparing rows, kept by triggers, and the indexes of its periods.

``StatusChange.superseded_on`` is the date of the patient's next status change, and
``GoalReview.superseded_on`` that of the goal's next review (by date, then id; empty on the
latest). The census's "status on the period's last day" and the goals' "latest review in the
period" compared every row with its group's others (an anti-join); with the next date stored, each
is the rows dated in the period and not superseded by its end, read in one pass. The triggers are
``registry.migrations._next_date``; the existing rows are filled once before they are created.
"""

from django.conf import settings
from django.db import migrations, models

from registry.migrations._next_date import NextDate

STATUS = NextDate("registry_statuschange", "patient_id", "changed_on", "superseded_on")
REVIEWS = NextDate("registry_goalreview", "goal_id", "reviewed_on", "superseded_on")


class Migration(migrations.Migration):
    dependencies = [
        ("registry", "0025_constraint_messages_in_words"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="goalreview",
            name="superseded_on",
            field=models.DateField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name="statuschange",
            name="superseded_on",
            field=models.DateField(blank=True, editable=False, null=True),
        ),
        migrations.RunPython(STATUS.create, STATUS.drop),
        migrations.RunPython(REVIEWS.create, REVIEWS.drop),
        migrations.AddIndex(
            model_name="followup",
            index=models.Index(
                fields=["due_date"], include=("patient", "status", "completed_on"), name="follow_up_due_cover_idx"
            ),
        ),
        migrations.AddIndex(
            model_name="statuschange",
            index=models.Index(fields=["changed_on"], name="status_change_day_idx"),
        ),
        migrations.AddIndex(
            model_name="statuschange",
            index=models.Index(
                condition=models.Q(("to_status", "deceased")),
                fields=["patient", "changed_on"],
                name="status_change_death_idx",
            ),
        ),
    ]
