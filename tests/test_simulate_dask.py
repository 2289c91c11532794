"""The simulation on a dask.distributed cluster of processes: partitioned by member, each worker
loading the pack from its folder itself, and the same results as in one process, row for row."""

from __future__ import annotations

import pytest

import benefits
from benefits.simulate import run, settle_year
from benefits.simulate.dicts import tables_from_dicts
from benefits.simulate.sample import sample_year

from conftest import RULES

distributed = pytest.importorskip("distributed")


def _loaded_packs():
    from benefits.simulate import cluster

    return sorted(cluster._PACKS)


def test_a_cluster_of_processes_settles_the_year_as_one_process_does():
    folder = RULES / "jiangmen"
    pack = benefits.load_rules(folder)
    sample = sample_year(pack, members=400, year=2021, seed=4, impossible_share=0.01)
    claims, members, items = tables_from_dicts(sample.claims, sample.openings)
    here = settle_year(pack, claims, members, items=items)
    assert run(str(folder), claims, members, items=items).table.equals(here.table)
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=":0") as lc, \
            distributed.Client(lc) as client:
        there = run(str(folder), claims, members, items=items, client=client, partitions=7)
        loaded = client.run(_loaded_packs)
    assert there.table.equals(here.table)
    assert there.not_vectorised == here.not_vectorised
    assert (there.pack, there.year, there.layers, there.counter_keys) == (here.pack, here.year, here.layers,
                                                                         here.counter_keys)
    # the workers loaded the pack from its folder (the pack itself is never shipped)
    assert [str(folder.resolve())] in loaded.values(), loaded
    assert all(packs in ([], [str(folder.resolve())]) for packs in loaded.values()), loaded


def test_a_partition_whose_worker_is_lost_is_sent_again():
    # the partitions' tables are scattered to one worker each: killed, it took them with it, and the
    # run ended in FutureCancelledError (exit 3); they are now sent again to the restarted workers
    import os
    import signal

    from benefits.simulate import cluster
    from benefits.simulate.results import Results

    folder = str((RULES / "jiangmen").resolve())
    pack = benefits.load_rules(folder)
    sample = sample_year(pack, members=200, year=2021, seed=4)
    claims, members, items = tables_from_dicts(sample.claims, sample.openings)
    here = settle_year(pack, claims, members, items=items)
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=":0") as lc, \
            distributed.Client(lc) as client:
        spec = [cluster.Spec(folder, here.year, True)]
        pieces = ((p.rows, spec, [t for t in (p.claims, p.members, p.items) if t is not None])
                  for p in cluster.split(claims, members, items, 8))
        out = []
        for k, (rows, got) in enumerate(cluster.on_cluster(client, pieces)):
            out.append(cluster.renumbered(got[0], rows))
            if k == 0:  # every worker killed while the next pieces are in flight (the nannies restart them)
                for pid in client.run(os.getpid).values():
                    os.kill(pid, signal.SIGKILL)
    assert Results.concat(out).table.sort_by("row").equals(here.table.sort_by("row"))


def test_a_scheduler_gone_mid_run_is_a_cluster_error_not_an_internal_error():
    # a scheduler killed mid-run: distributed gave up reconnecting, closed the client, and the next call
    # failed with its own RuntimeError ('ConnectionPool is closed'), reported as an internal error (exit 3)
    from benefits.simulate.cluster import ClusterError

    folder = RULES / "jiangmen"
    pack = benefits.load_rules(folder)
    sample = sample_year(pack, members=40, year=2021, seed=4)
    claims, members, items = tables_from_dicts(sample.claims, sample.openings)
    with distributed.LocalCluster(n_workers=1, processes=False, threads_per_worker=1, dashboard_address=":0") as lc:
        client = distributed.Client(lc)
        client.close()  # as distributed closes it once the scheduler does not come back
        with pytest.raises(ClusterError, match="lost the Dask scheduler"):
            run(str(folder), claims, members, items=items, client=client, partitions=3)
