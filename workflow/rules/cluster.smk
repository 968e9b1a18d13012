# A workaround for the SLURM executor plugin (snakemake-executor-plugin-slurm):
# it defines `slurm-no-account` but, since its version 1.2 (2.8.0, the newest,
# included), never reads it. With no account given it guesses one with sacct
# and warns three times per run ("Unable to guess SLURM account"), also where
# the profile says the cluster has none. Here the flag does what it says: no
# -A, so SLURM charges the user's default account, and no guess. A job with a
# slurm_account resource keeps it; without the plugin this does nothing.
try:
    from snakemake_executor_plugin_slurm import Executor as SlurmExecutor
except ImportError:
    SlurmExecutor = None

if SlurmExecutor is not None and not hasattr(SlurmExecutor, "guess_account_arg"):
    SlurmExecutor.guess_account_arg = SlurmExecutor.get_account_arg

    def account_arg(self, job):
        if self.workflow.executor_settings.no_account and not job.resources.get("slurm_account"):
            yield ""
        else:
            yield from self.guess_account_arg(job)

    SlurmExecutor.get_account_arg = account_arg
