"""A clinic's open visits indexed whether or not they are superseded.

A clinic's worklist counts every open visit that is listed: a missed one not superseded, and a
scheduled one whatever a later booking says. With superseded visits left out of the index, the
scheduled ones were read through the program-wide status index, every site's, then filtered.
"""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('registry', '0027_needs_attention_index'),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='followup',
            name='follow_up_open_site_idx',
        ),
        migrations.AddIndex(
            model_name='followup',
            index=models.Index(condition=models.Q(('status__in', ['scheduled', 'missed'])), fields=['site', 'due_date', 'status'], name='follow_up_open_site_idx'),
        ),
    ]
