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

    return sorted(pack.directory for pack in cluster._PACKS.values())


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
        spec = [cluster.Spec(folder, here.year, True, pack.content_hash)]
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


def test_a_long_lived_worker_settles_each_run_under_the_pack_as_it_is_when_the_run_begins(tmp_path):
    # workers cached a pack by its folder for their whole life: run again after an edit, the cluster
    # paid under the old rules (and the client too kept its first load of the folder)
    import shutil

    from conftest import claim, edit

    folder = tmp_path / "jiangmen"
    shutil.copytree(RULES / "jiangmen", folder)
    claims, members, _ = tables_from_dicts([claim()])
    # policy range 18500.00, resident level 3 deductible 1000.00: (18500 - 1000) x 65% = 11375.00,
    # then (18500 - 1000) x 50% = 8750.00 once the level-3 ratio is edited to 50%
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=":0") as lc, \
            distributed.Client(lc) as client:
        before = run(str(folder), claims, members, client=client, partitions=2)
        edit(folder, "parameters/basic_inpatient.yaml", '2021-01-01: {value: 65%, source: "seed 001: 参保人在三级',
             '2021-01-01: {value: 50%, source: "seed 001: 参保人在三级')
        after = run(str(folder), claims, members, client=client, partitions=2)
    assert before.table.column("paid.basic").to_pylist() == [1137500]
    assert after.table.column("paid.basic").to_pylist() == [875000]


def test_a_worker_whose_pack_folder_differs_from_the_clients_stops_the_run_naming_the_folder(tmp_path):
    # the client loaded the pack, then its folder changed before a worker read it (an edit mid-run, or
    # another host's copy): the worker settled under the files it found
    import shutil

    from conftest import edit

    from benefits.simulate.files import read_claims, read_members
    from benefits.simulate.runner import simulate

    folder = tmp_path / "jiangmen"
    shutil.copytree(RULES / "jiangmen", folder)
    pack = benefits.load_rules(folder)
    edit(folder, "parameters/basic_inpatient.yaml", '2021-01-01: {value: 65%, source: "seed 001: 参保人在三级',
         '2021-01-01: {value: 50%, source: "seed 001: 参保人在三级')
    (tmp_path / "claims.csv").write_text(
        "claim_id,member_id,visit,level,admission_date,discharge_date,total,fully_self_paid,over_limit,pre_self_paid\n"
        "c1,m1,inpatient,level3,2021-03-01,2021-03-10,20000.00,1000.00,0,500.00\n", encoding="utf-8")
    (tmp_path / "members.csv").write_text("member_id,scheme,member_type\nm1,resident,adult\n", encoding="utf-8")
    claims, members = read_claims(tmp_path / "claims.csv"), read_members(tmp_path / "members.csv")
    with distributed.LocalCluster(n_workers=1, processes=True, threads_per_worker=1, dashboard_address=":0") as lc:
        with pytest.raises(benefits.BenefitsError) as got:  # exit 2
            simulate(pack, str(folder), claims, members, scheduler=lc.scheduler_address)
    assert f"rule pack {folder.resolve()}" in str(got.value)
    assert pack.content_hash[:12] in str(got.value)
