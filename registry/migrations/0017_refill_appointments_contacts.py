"""Refill appointments and the contact log; both raise the data version (migration 0009), since
the dashboard's cached worklist shows each row's booking and last contact."""


import django.db.models.deletion
import simple_history.models
from django.conf import settings
from django.db import migrations, models


TABLES = ["registry_refillappointment", "registry_contactattempt"]
SQLITE_NOW_MS = "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)"
STATEMENTS = {
    "postgresql": [
        f"""CREATE TRIGGER registry_data_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table}
            FOR EACH STATEMENT EXECUTE FUNCTION registry_data_changed()"""
        for table in TABLES
    ],
    "sqlite": [
        f"""CREATE TRIGGER registry_data_changed_{table}_{op.lower()} AFTER {op} ON {table} BEGIN
              INSERT INTO registry_dataversion (id, value) VALUES (1, {SQLITE_NOW_MS})
                ON CONFLICT (id) DO UPDATE SET value = max(value + 1, {SQLITE_NOW_MS});
            END"""
        for table in TABLES
        for op in ("INSERT", "UPDATE", "DELETE")
    ],
}
REVERSE = {
    "postgresql": [f"DROP TRIGGER IF EXISTS registry_data_changed ON {table}" for table in TABLES],
    "sqlite": [
        f"DROP TRIGGER IF EXISTS registry_data_changed_{table}_{op}"
        for table in TABLES
        for op in ("insert", "update", "delete")
    ],
}


def create(apps, schema_editor):
    for statement in STATEMENTS[schema_editor.connection.vendor]:
        schema_editor.execute(statement, params=None)


def drop(apps, schema_editor):
    for statement in REVERSE[schema_editor.connection.vendor]:
        schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):

    dependencies = [
        ('registry', '0016_dose_change_guard_on_update'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='HistoricalRefillAppointment',
            fields=[
                ('id', models.BigIntegerField(auto_created=True, blank=True, db_index=True, verbose_name='ID')),
                ('starts_at', models.DateTimeField(verbose_name='date and time')),
                ('starts_on', models.DateField(editable=False)),
                ('status', models.CharField(choices=[('booked', 'Booked'), ('attended', 'Refill recorded'), ('no_show', 'Did not attend'), ('cancelled', 'Cancelled')], default='booked', max_length=10)),
                ('note', models.CharField(blank=True, max_length=200)),
                ('cancel_reason', models.CharField(blank=True, max_length=200, verbose_name='reason')),
                ('created_at', models.DateTimeField(blank=True, editable=False)),
                ('history_id', models.AutoField(primary_key=True, serialize=False)),
                ('history_date', models.DateTimeField(db_index=True)),
                ('history_change_reason', models.TextField(null=True)),
                ('history_type', models.CharField(choices=[('+', 'Created'), ('~', 'Changed'), ('-', 'Deleted')], max_length=1)),
                ('booked_by', models.ForeignKey(blank=True, db_constraint=False, editable=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('history_user', models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('patient', models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='registry.patient')),
                ('refill', models.ForeignKey(blank=True, db_constraint=False, editable=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='registry.refill')),
                ('site', models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='registry.site', verbose_name='clinic')),
            ],
            options={
                'verbose_name': 'historical refill appointment',
                'verbose_name_plural': 'historical refill appointments',
                'ordering': ('-history_date', '-history_id'),
                'get_latest_by': ('history_date', 'history_id'),
            },
            bases=(simple_history.models.HistoricalChanges, models.Model),
        ),
        migrations.CreateModel(
            name='ContactAttempt',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('contacted_at', models.DateTimeField(verbose_name='when')),
                ('channel', models.CharField(choices=[('phone', 'Phone call'), ('sms', 'Text message'), ('email', 'E-mail'), ('in_person', 'In person'), ('letter', 'Letter')], default='phone', max_length=10, verbose_name='how')),
                ('contact_with', models.CharField(blank=True, help_text='e.g. mother, the patient', max_length=100, verbose_name='with whom')),
                ('outcome', models.CharField(choices=[('reached', 'Reached'), ('no_answer', 'No answer'), ('left_message', 'Left a message'), ('wrong_number', 'Wrong number'), ('booked', 'Visit booked')], max_length=15)),
                ('note', models.TextField(blank=True)),
                ('patient', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='contacts', to='registry.patient')),
                ('recorded_by', models.ForeignKey(blank=True, editable=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'ordering': ['-contacted_at', '-id'],
                'indexes': [models.Index(fields=['patient', '-contacted_at'], name='contact_patient_latest_idx')],
            },
        ),
        migrations.CreateModel(
            name='RefillAppointment',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('starts_at', models.DateTimeField(verbose_name='date and time')),
                ('starts_on', models.DateField(editable=False)),
                ('status', models.CharField(choices=[('booked', 'Booked'), ('attended', 'Refill recorded'), ('no_show', 'Did not attend'), ('cancelled', 'Cancelled')], default='booked', max_length=10)),
                ('note', models.CharField(blank=True, max_length=200)),
                ('cancel_reason', models.CharField(blank=True, max_length=200, verbose_name='reason')),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('booked_by', models.ForeignKey(blank=True, editable=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('patient', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='refill_appointments', to='registry.patient')),
                ('refill', models.ForeignKey(blank=True, editable=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='appointments', to='registry.refill')),
                ('site', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='registry.site', verbose_name='clinic')),
            ],
            options={
                'ordering': ['starts_at', 'id'],
                'indexes': [models.Index(condition=models.Q(('status', 'booked')), fields=['site', 'starts_on'], name='refill_appt_open_site_idx'), models.Index(fields=['patient', 'status'], name='refill_appt_patient_idx')],
                'constraints': [models.UniqueConstraint(condition=models.Q(('status', 'booked')), fields=('patient',), name='refill_appointment_one_open_per_patient')],
            },
        ),
        migrations.RunPython(create, drop),
    ]
