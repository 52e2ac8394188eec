"""The Part 2 job fields (CLI.md "More job fields") as every backend stores and returns them."""

from queuectl.jobs import NewJob

from .helpers import NOW, claim, ids


def full(job_id: str, **fields) -> NewJob:
    values = dict(max_retries=1, queue="media", batch="nightly", cwd="/srv/work dir",
                  env={"LANG": "C.UTF-8", "GREETING": "héllo wörld", "EMPTY": ""},
                  unique_key="thumb:42", after=("x", "y"))
    return NewJob(job_id, "true", **(values | fields))


async def given_dependencies(store) -> None:
    """`after` names jobs that must exist (issue 10); these two do."""
    await store.insert_jobs([NewJob("x", "true"), NewJob("y", "true")], now=NOW)


async def test_every_field_round_trips(store):
    await given_dependencies(store)
    (inserted,) = await store.insert_jobs([full("a")], now=NOW)
    stored = await store.get_job("a")
    assert stored == inserted
    assert (stored.queue, stored.batch, stored.cwd, dict(stored.env), stored.unique_key,
            stored.after) == ("media", "nightly", "/srv/work dir",
                              {"LANG": "C.UTF-8", "GREETING": "héllo wörld", "EMPTY": ""},
                              "thumb:42", ("x", "y"))
    assert [j async for j in store.iter_jobs()][-1] == stored


async def test_defaults_are_the_before_part2_values(store):
    (inserted,) = await store.insert_jobs([NewJob("a", "true", max_retries=0)], now=NOW)
    stored = await store.get_job("a")
    assert stored == inserted
    assert (stored.queue, stored.batch, stored.cwd, stored.env, stored.unique_key,
            stored.after) == ("default", None, None, None, None, ())


async def test_a_claimed_job_carries_what_the_runner_needs(store):
    await store.insert_jobs([full("a", after=()), NewJob("b", "true", max_retries=0, cwd="/tmp",
                                               batch="b2")], now=NOW)
    claimed = {j.id: j for j in await claim(store, 5)}
    assert claimed["a"].cwd == "/srv/work dir" and claimed["a"].env["GREETING"] == "héllo wörld"
    assert claimed["b"].cwd == "/tmp" and claimed["b"].env is None and claimed["b"].batch == "b2"


async def test_a_bulk_insert_keeps_each_jobs_own_fields(store):
    jobs = [full(f"j{n}", batch=f"b{n % 3}", env={"N": str(n)} if n % 2 else None,
                 after=() if n % 4 or not n else (f"j{n - 1}",), unique_key=None)
            for n in range(50)]
    inserted = await store.insert_jobs(jobs, now=NOW)
    assert await ids(store) == [j.id for j in jobs]
    for job, returned in zip(jobs, inserted, strict=True):
        stored = await store.get_job(job.id)
        assert stored == returned
        assert stored.batch == job.batch and stored.after == tuple(job.after)
        assert (stored.env or None) == job.env


async def test_another_store_object_reads_the_same_fields(store, other):
    await given_dependencies(store)
    await store.insert_jobs([full("a")], now=NOW)
    assert await other.get_job("a") == await store.get_job("a")


async def test_iter_jobs_by_batch_pages_in_enqueue_order(store):
    jobs = [full(f"j{n}", batch="odd" if n % 2 else "even", after=(), unique_key=None)
            for n in range(25)]
    await store.insert_jobs(jobs, now=NOW)
    odd = [j.id async for j in store.iter_jobs(batch="odd", chunk=4)]
    assert odd == [f"j{n}" for n in range(1, 25, 2)]
    await store.finish_jobs([], now=NOW)
    claimed = await claim(store, 3)
    pending_odd = [j.id async for j in store.iter_jobs(batch="odd", state="pending", limit=5)]
    assert pending_odd == [i for i in odd if i not in {c.id for c in claimed}][:5]
    assert [j async for j in store.iter_jobs(batch="none")] == []
