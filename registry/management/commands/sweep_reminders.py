"""``manage.py sweep_reminders [--dry-run]``: the periodic reminder sweep, by hand."""

from django.core.management.base import BaseCommand

from registry.services.reminders import sweep


class Command(BaseCommand):
    help = "Create the reminders due now, cancel void ones and queue delivery (--dry-run: only print)."

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Print what would be sent; change nothing.")

    def handle(self, *args, dry_run: bool = False, **options):
        from tasks.tasks import enqueue_delivery

        result = sweep(dry_run=dry_run, enqueue=None if dry_run else enqueue_delivery)
        prefix = "Would create" if dry_run else "Created"
        self.stdout.write(f"{prefix} {result.created_total} reminders at {result.now:%Y-%m-%d %H:%M %Z}")
        for kind, n in sorted(result.created.items()):
            self.stdout.write(f"  {kind}: {n}")
        self.stdout.write(
            f"Follow-ups marked missed: {result.missed_follow_ups}; cancelled: {result.cancelled}; "
            f"recovered from 'sending': {result.recovered}"
        )
        verb = "Would send" if dry_run else "Queued"
        self.stdout.write(f"{verb} {len(result.batches)} messages:")
        for batch in result.batches:
            kinds = ", ".join(sorted(set(batch.kinds)))
            self.stdout.write(f"  {batch.channel:<12} {batch.recipient:<40} {len(batch.reminder_ids)} ({kinds})")
