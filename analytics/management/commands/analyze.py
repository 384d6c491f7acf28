import json

from django.core.management.base import BaseCommand, CommandError

from analytics import services
from analytics.compute.clv import PURCHASE_MODELS
from analytics.compute.pipeline import STEPS, PipelineParams
from analytics.compute.rules import RULE_ALGORITHMS
from analytics.models import RunStatus
from shops.models import Shop
from shops.scope import shop_scope


class Command(BaseCommand):
    help = "Run the whole analysis of a shop in this process and print a summary (same as the worker's run)."

    def add_arguments(self, parser):
        parser.add_argument("--shop", required=True, help="The shop's slug.")
        parser.add_argument("--only", help=f"Comma-separated steps out of: {','.join(STEPS)}")
        parser.add_argument(
            "--min-support",
            type=float,
            help="Rules: share of baskets a combination must be in (default: 1%%, and at least 10 baskets).",
        )
        parser.add_argument("--min-confidence", type=float, help="Rules: minimum confidence (default 0.2).")
        parser.add_argument(
            "--max-len",
            dest="rule_max_len",
            type=int,
            help="Rules: most items in a rule, both sides together (default: no limit).",
        )
        parser.add_argument(
            "--rule-algorithm",
            choices=list(RULE_ALGORITHMS),
            help="Rules: fpgrowth (default, compiled pyfim) or apriori (mlxtend); both find the same rules.",
        )
        parser.add_argument("--cluster-method", choices=["kmeans", "agglomerative", "hdbscan"])
        parser.add_argument("--k", type=int)
        parser.add_argument("--calibration-end", help="CLV check: fit up to this date (YYYY-MM-DD).")
        parser.add_argument(
            "--clv-model",
            choices=list(PURCHASE_MODELS),
            help=f"Purchase model of lifetime value (default {PipelineParams.clv_model}).",
        )
        parser.add_argument("--json", action="store_true", help="Print the summary as JSON.")

    def handle(self, *args, **opts):
        shop = Shop.objects.filter(slug=opts["shop"]).first()
        if shop is None:
            raise CommandError(f"No shop has the slug {opts['shop']!r}.")
        params = {}
        if opts["only"]:
            params["only"] = [s.strip() for s in opts["only"].split(",") if s.strip()]
        for name in (
            "min_support",
            "min_confidence",
            "rule_max_len",
            "rule_algorithm",
            "cluster_method",
            "k",
            "calibration_end",
            "clv_model",
        ):
            if opts[name] is not None:
                params[name] = opts[name]
        with shop_scope(shop):
            try:
                run = services.analysis_run_create(shop=shop, params=params, trigger="command")
            except ValueError as exc:
                raise CommandError(str(exc)) from exc
            run = services.analysis_run_claim(run_id=run.pk)
            run = services.analysis_run_execute(run=run)
        if run.status != RunStatus.DONE:
            raise CommandError(f"The analysis failed: {run.error}")
        if opts["json"]:
            self.stdout.write(json.dumps(run.summary, indent=2, default=str))
        else:
            timings = ", ".join(f"{k} {v:.1f}s" for k, v in run.summary.get("timings", {}).items())
            self.stdout.write(self.style.SUCCESS(f"Analysis run {run.pk} done ({timings})."))
