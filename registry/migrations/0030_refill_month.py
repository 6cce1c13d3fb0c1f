"""The report's monthly rollup of the refills, kept by triggers in the same statement as the writes.

``RefillMonth`` counts the refills in force per site, local month, timeliness and interval; the
report reads the months its period covers from it and only the refills of the days at its edges
(``reporting.reports.refills``). The triggers are ``registry/migrations/_refill_month.py``; the
refills already recorded are counted once before they are created (about 15 s for 2,000,000
refills on a busy machine).
"""

import django.db.models.deletion
from django.db import migrations, models

from registry.migrations import _refill_month


class Migration(migrations.Migration):

    dependencies = [
        ('registry', '0029_report_indexes'),
    ]

    operations = [
        migrations.CreateModel(
            name='RefillMonth',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('month', models.DateField(help_text='The first day of the local month of the refills.')),
                ('timeliness', models.CharField(blank=True, max_length=12)),
                ('interval_days', models.IntegerField()),
                ('refills', models.IntegerField()),
                ('site', models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='registry.site')),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('month', 'site', 'timeliness', 'interval_days'), include=('refills',), name='refill_month_key', violation_error_message='These refills are already counted for this site and month.')],
            },
        ),
        migrations.RunPython(_refill_month.create, _refill_month.drop),
    ]
