"""Facts the report reads instead of joining every row to the patient's stays, kept by triggers in
the same statements as the writes.

``FollowUp.due_site`` is the site of the patient's stay on the visit's due date, and ``PumpSpan``
the days each pump was in place at each of the patient's sites (cut at the explant, the death and
the moves). Follow-up adherence and the pump-days read them alone instead of joining the stays
(the two statements took about 250 ms of the summary's 700 ms at 100,000 patients). The triggers
are ``registry/migrations/_report_facts.py``; the rows already written are filled once before
they are created.
"""

import django.db.models.deletion
from django.db import migrations, models

from registry.migrations import _report_facts


class Migration(migrations.Migration):

    dependencies = [
        ('registry', '0030_refill_month'),
    ]

    operations = [
        migrations.CreateModel(
            name='PumpSpan',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('started_on', models.DateField()),
                ('ended_on', models.DateField(blank=True, null=True)),
                ('patient', models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='registry.patient')),
                ('site', models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='registry.site')),
            ],
            options={
                'indexes': [models.Index(fields=['patient'], name='pump_span_patient_idx')],
            },
        ),
        # Dropped while every visit is filled, made again with the site included.
        migrations.RemoveIndex(
            model_name='followup',
            name='follow_up_due_cover_idx',
        ),
        migrations.AddField(
            model_name='followup',
            name='due_site',
            field=models.ForeignKey(db_constraint=False, db_index=False, editable=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='registry.site'),
        ),
        migrations.RunPython(_report_facts.create, _report_facts.drop),
        migrations.AddIndex(
            model_name='followup',
            index=models.Index(fields=['due_date'], include=('patient', 'status', 'completed_on', 'due_site'), name='follow_up_due_cover_idx'),
        ),
    ]
