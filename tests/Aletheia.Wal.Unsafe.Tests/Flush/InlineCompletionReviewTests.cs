using System.Globalization;
using System.Reflection;
using Aletheia.Wal.Flush;
using Aletheia.Wal.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Aletheia.Wal.Tests.Flush;

/// <summary>
/// Adversarial review of the inline async completion (<see cref="AsyncCompletions"/>, commit a43cc55): the batch protocol
/// driven step by step from the test thread, which plays the release pass (Start, Add, RunClaims, Next, Finish, as
/// <c>DurableWatermark.ReleaseReady</c> calls them), while the real watchdog timer and thread pool do the rest.
/// </summary>
public sealed class InlineCompletionReviewTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Long = TimeSpan.FromSeconds(5);
    private static readonly FieldInfo s_watching = typeof(AsyncCompletions).GetField("_watching", BindingFlags.NonPublic | BindingFlags.Instance)!;

    /// <summary>
    /// D1. The release pass fills a batch outside any lock (<c>Add</c> per waiter it took from the registry), and the
    /// watchdog looks at it meanwhile: a pass preempted between two Adds for two stall periods (a loaded 2-core machine,
    /// a GC pause) looks stalled with waiters unclaimed, so the watchdog queues the batch. That run claims what was added
    /// so far, then its last, failed claim takes the index of the next waiter the pass adds; the pass's own claims start
    /// after it. That waiter was taken out of the registry with its outcome set, and nobody completes it: its await hangs
    /// for good.
    /// </summary>
    [Fact]
    public void A_waiter_added_after_the_watchdog_rescued_a_batch_still_being_filled_is_completed()
    {
        using var watermark = new DurableWatermark(Lsn.None);
        var completions = new AsyncCompletions(new CountingWorkItem());
        DurableWaiter[] waiters = [.. Enumerable.Range(1, 3).Select(lsn => Released(watermark, (ulong)lsn))];
        Task<Lsn>[] waits = [.. waiters.Select(w => new ValueTask<Lsn>(w, w.Version).AsTask())];

        AsyncCompletionBatch batch = completions.Start();
        batch.Add(waiters[0]);
        batch.Add(waiters[1]);

        // The filling pass is preempted here, for longer than two stall periods.
        Assert.True(
            SpinWait.SpinUntil(() => completions.TestHookRescues >= 1, Long),
            "A batch whose claims stood still for a stall period is rescued by the watchdog.");
        Thread.Sleep(4 * AsyncCompletions.StallMilliseconds); // the queued run, if any, has run meanwhile

        batch.Add(waiters[2]);
        batch.RunClaims();
        completions.Finish(completions.Next(batch));

        Assert.True(
            AsyncReleaseReviewTests.CompletedWithin(waits, Long),
            $"Every waiter put in the batch is completed once; pending: {string.Join(", ", waits.Select((t, i) => t.IsCompleted ? null : $"LSN {i + 1}").OfType<string>())}.");
        Assert.Equal([new Lsn(1), new Lsn(2), new Lsn(3)], waits.Select(t => t.Result));
    }

    /// <summary>
    /// 4,096 async loops appending 64 B records with AppendDurableAsync (the perf probe's shape) for 3 s; eight of them
    /// block the thread their continuation runs on for 15 ms every eighth append (longer than a stall period: the
    /// watchdog hands their batches and the release to other threads, and passes overlap). Every loop finishes, and the
    /// LSNs acknowledged are exactly 1 to LastLsn, each once.
    /// </summary>
    [Fact]
    public async Task Thousands_of_async_loops_with_blocking_continuations_lose_no_completion()
    {
        const int Loops = 4_096;
        const int BlockEvery = 512; // loops 0, 512, ... block
        using var dir = new TempDirectory();
        using WriteAheadLog log = WriteAheadLog.Open(new WalOptions { Directory = dir.Log() });
        var acknowledged = new List<Lsn>[Loops];
        await RunLoopsForThreeSecondsAsync(log, Loops, async (loop, stop) =>
        {
            List<Lsn> mine = acknowledged[loop] = [];
            ReadOnlyMemory<byte> payload = Payloads.Make(loop, 0, 64);
            while (!stop.IsCancellationRequested)
            {
                mine.Add(await log.AppendDurableAsync(payload).ConfigureAwait(false));
                if (loop % BlockEvery == 0 && mine.Count % 8 == 0)
                {
                    Thread.Sleep(15); // blocks the thread that runs this continuation: a release pass's, often
                }
            }
        });

        output.WriteLine($"{acknowledged.Sum(l => l.Count):N0} appends acknowledged, {log.Watermark.TestHookCompletions.TestHookRescues} rescues");
        List<ulong> lsns = [.. acknowledged.SelectMany(l => l).Select(l => l.Value).Order()];
        Assert.Equal(log.LastLsn.Value, (ulong)lsns.Count);
        Assert.Equal(Enumerable.Range(1, lsns.Count).Select(i => (ulong)i), lsns);
    }

    /// <summary>
    /// D2. A continuation that blocks for many stall periods: the watchdog handed its batch's other waiter and the release
    /// to other threads after the first period, and then did it again every 10 ms for as long as the continuation
    /// blocked (a release pass queued, and counted as a rescue, each time): 100 passes a second that find nothing, for
    /// one stall, also after the log is disposed. One hand-off per stall is all it takes: the pass queued then resets the
    /// releaser's state word, so that later advances queue their own passes.
    /// </summary>
    [Fact]
    public void A_continuation_blocked_for_many_stall_periods_is_handed_to_other_threads_once()
    {
        using var watermark = new DurableWatermark(Lsn.None);
        var releaser = new CountingWorkItem();
        var completions = new AsyncCompletions(releaser);
        DurableWaiter blocking = Released(watermark, 1);
        DurableWaiter next = Released(watermark, 2);
        using var nextRan = new ManualResetEventSlim();
        int nextThread = 0;
        bool rescued = false;
        AsyncCompletionsTests.Attach(blocking, _ =>
        {
            rescued = nextRan.Wait(Long);                              // until the watchdog hands the next waiter on
            Thread.Sleep(20 * AsyncCompletions.StallMilliseconds);    // then 20 stall periods more
        });
        AsyncCompletionsTests.Attach(next, _ =>
        {
            nextThread = Environment.CurrentManagedThreadId;
            nextRan.Set();
        });

        AsyncCompletionBatch batch = completions.Start();
        batch.Add(blocking);
        batch.Add(next);
        batch.RunClaims(); // the first continuation blocks this thread
        completions.Finish(completions.Next(batch));

        Assert.True(rescued, "The watchdog hands the waiter after a blocked continuation to another thread.");
        Assert.NotEqual(Environment.CurrentManagedThreadId, nextThread);
        Assert.True(SpinWait.SpinUntil(() => releaser.Runs >= 1, Long), "The watchdog queues a release pass for the stalled one.");
        Assert.True(SpinWait.SpinUntil(() => completions.TestHookInFlight == 0, Long), "The batch is given back.");
        Assert.Equal(1, releaser.Runs); // one stall of one pass, one release pass queued
    }

    /// <summary>
    /// D3. The thread pool puts a worker's priority, background flag and name back after every work item (as it does its
    /// execution and synchronization contexts); the batch put back only the two contexts, so what one continuation set
    /// on its thread reached the next continuations of the batch (an engine lowering the priority of one background
    /// continuation lowered the others').
    /// </summary>
    [Fact]
    public void A_continuation_that_changes_its_threads_priority_background_flag_or_name_does_not_change_the_next_ones()
    {
        using var watermark = TwoAsyncWaiters(out DurableWaiter first, out DurableWaiter second);
        using var done = new ManualResetEventSlim();
        string? nameBefore = "not run", nameAfter = "not run";
        ThreadPriority priority = ThreadPriority.Highest;
        bool background = false;
        int firstThread = 0, secondThread = 0;
        AsyncCompletionsTests.Attach(first, _ =>
        {
            firstThread = Environment.CurrentManagedThreadId;
            nameBefore = Thread.CurrentThread.Name;
            Thread.CurrentThread.Priority = ThreadPriority.Lowest;
            Thread.CurrentThread.IsBackground = false;
            Thread.CurrentThread.Name = "renamed by the first continuation";
        });
        AsyncCompletionsTests.Attach(second, _ =>
        {
            secondThread = Environment.CurrentManagedThreadId;
            priority = Thread.CurrentThread.Priority;
            background = Thread.CurrentThread.IsBackground;
            nameAfter = Thread.CurrentThread.Name;
            done.Set();
        });

        watermark.Advance(new Lsn(6));

        Assert.True(done.Wait(Long), "The second continuation ran.");
        Assert.Equal(firstThread, secondThread); // one batch, one thread: what the first set is still on it
        Assert.Equal(ThreadPriority.Normal, priority);
        Assert.True(background, "A thread-pool thread is a background thread for every work item.");
        Assert.Equal(nameBefore, nameAfter);
    }

    /// <summary>
    /// A continuation that changes its culture, or suppresses the execution context's flow and leaves it so, changes
    /// neither for the next continuation of its batch (both live in the execution context, which the batch puts back).
    /// </summary>
    [Fact]
    public void A_continuation_that_changes_its_culture_or_suppresses_flow_does_not_change_the_next_ones()
    {
        using var watermark = TwoAsyncWaiters(out DurableWaiter first, out DurableWaiter second);
        using var done = new ManualResetEventSlim();
        CultureInfo? cultureBefore = null, cultureAfter = null;
        bool suppressedAfter = true;
        AsyncCompletionsTests.Attach(first, _ =>
        {
            cultureBefore = CultureInfo.CurrentCulture;
            var decimalComma = (CultureInfo)CultureInfo.InvariantCulture.Clone(); // the only culture of invariant mode, changed
            decimalComma.NumberFormat.NumberDecimalSeparator = ",";
            CultureInfo.CurrentCulture = decimalComma;
            ExecutionContext.SuppressFlow(); // never undone
        });
        AsyncCompletionsTests.Attach(second, _ =>
        {
            cultureAfter = CultureInfo.CurrentCulture;
            suppressedAfter = ExecutionContext.IsFlowSuppressed();
            done.Set();
        });

        watermark.Advance(new Lsn(6));

        Assert.True(done.Wait(Long), "The second continuation ran.");
        Assert.Same(cultureBefore, cultureAfter);
        Assert.False(suppressedAfter, "The flow suppression of the first continuation must not reach the second.");
    }

    /// <summary>
    /// The watermark is disposed while a continuation of its releaser blocks: the batch's other waiter is still completed
    /// (by another thread), and once the continuation returns the batch is given back and the watchdog disarms, so that
    /// nothing keeps the disposed watermark alive or busy.
    /// </summary>
    [Fact]
    public void A_watermark_disposed_while_a_continuation_blocks_disarms_its_watchdog_once_it_returns()
    {
        var watermark = TwoAsyncWaiters(out DurableWaiter first, out DurableWaiter second);
        Task<Lsn> third = watermark.WaitAsync(new Lsn(7), CancellationToken.None).AsTask(); // not durable: disposal fails it
        using var blocked = new ManualResetEventSlim();
        using var unblock = new ManualResetEventSlim();
        using var secondRan = new ManualResetEventSlim();
        AsyncCompletionsTests.Attach(first, _ =>
        {
            blocked.Set();
            unblock.Wait(Long);
        });
        AsyncCompletionsTests.Attach(second, _ => secondRan.Set());
        AsyncCompletions completions = watermark.TestHookCompletions;

        watermark.Advance(new Lsn(6));
        Assert.True(blocked.Wait(Long), "The first continuation runs and blocks.");
        watermark.Dispose();
        Assert.True(secondRan.Wait(Long), "The waiter after the blocked continuation is completed by another thread.");
        Assert.True(AsyncReleaseReviewTests.CompletedWithin([third], Long), "The wait that was not durable is released by the disposal.");
        Assert.IsType<ObjectDisposedException>(third.Exception!.InnerException);
        Assert.Equal(1, completions.TestHookInFlight); // the blocked pass's batch

        unblock.Set();
        Assert.True(SpinWait.SpinUntil(() => completions.TestHookInFlight == 0, Long), "The batch is given back once the continuation returns.");
        Assert.True(SpinWait.SpinUntil(() => !(bool)s_watching.GetValue(completions)!, Long), "The watchdog disarms with no batch in flight.");
    }

    /// <summary>
    /// A continuation run inline by the releaser disposes the log: Dispose returns (nothing in it waits for the releaser
    /// that runs it), and every other wait of the same advance returns its LSN, those taken into the releaser's batch
    /// before the disposal and those still registered, which the disposal releases as durable.
    /// </summary>
    [Fact]
    public void A_continuation_that_disposes_the_log_lets_every_other_wait_of_the_advance_return_its_lsn()
    {
        using var dir = new TempDirectory();
        var storage = new FaultyStorage();
        WriteAheadLog log = WriteAheadLog.Open(new WalOptions { Directory = dir.Log(), StripeCount = 1 }, storage);
        Task<Lsn>[] waits = HeldBackDurableAppends(log, storage, Waits, out Action release, first: _ => log.Dispose());

        release();

        Assert.True(AsyncReleaseReviewTests.CompletedWithin(waits, Long), "Every wait completes, the disposing continuation's too.");
        Assert.Equal(Enumerable.Range(3, Waits).Select(lsn => new Lsn((ulong)lsn)), waits.Select(t => t.Result));
        Assert.Throws<ObjectDisposedException>(() => log.Append([1]));
    }

    /// <summary>
    /// A continuation run inline by the releaser cancels the token every other wait of the advance was made with: all of
    /// them were durable when the token was cancelled, so all return their LSN, those already taken into the releaser's
    /// batch (the cancellation finds them unregistered and leaves them) and those still registered (the cancellation
    /// takes them out, sees them durable, and completes them so).
    /// </summary>
    [Fact]
    public void A_continuation_that_cancels_the_other_waits_of_its_advance_leaves_them_durable()
    {
        using var dir = new TempDirectory();
        var storage = new FaultyStorage();
        using var cancel = new CancellationTokenSource();
        using WriteAheadLog log = WriteAheadLog.Open(new WalOptions { Directory = dir.Log(), StripeCount = 1 }, storage);
        Task<Lsn>[] waits = HeldBackDurableAppends(log, storage, Waits, out Action release, first: _ => cancel.Cancel(), cancel.Token);

        release();

        Assert.True(AsyncReleaseReviewTests.CompletedWithin(waits, Long), "Every wait completes.");
        Assert.True(cancel.IsCancellationRequested);
        Assert.Equal(Enumerable.Range(3, Waits).Select(lsn => new Lsn((ulong)lsn)), waits.Select(t => t.Status == TaskStatus.RanToCompletion ? t.Result : Lsn.None));
    }

    /// <summary>
    /// A continuation run inline by the releaser calls TruncateAfter(its own LSN) while the rest of the advance waits:
    /// the waiters the pass had taken into its first batch (16, lowest first) were durable when taken and return their
    /// LSN; the ones still registered are above the cut, and fail with WalTruncatedException. The log goes on from the cut.
    /// The continuation holds the registry's lock around the call (TruncateAfter's rewind takes it again on the same
    /// thread), so that the cut comes before any other pass takes the rest: a pass the watchdog queues while the cut
    /// writes (longer than a stall period on a busy disk) would otherwise take them first, as durable, the other
    /// correct order.
    /// </summary>
    [Fact]
    public void A_continuation_that_truncates_after_its_own_lsn_fails_exactly_the_waits_still_registered()
    {
        using var dir = new TempDirectory();
        var storage = new FaultyStorage();
        using WriteAheadLog log = WriteAheadLog.Open(new WalOptions { Directory = dir.Log(), StripeCount = 1 }, storage);
        Task<Lsn>[] waits = HeldBackDurableAppends(log, storage, Waits, out Action release, first: lsn =>
        {
            lock (log.Watermark.TestHookGate)
            {
                log.TruncateAfter(lsn);
            }
        });

        release();

        Assert.True(AsyncReleaseReviewTests.CompletedWithin(waits, Long), "Every wait completes.");
        string[] outcomes = [.. waits.Select(t => t.Status == TaskStatus.RanToCompletion ? t.Result.ToString() : t.Exception!.InnerException!.GetType().Name)];
        string[] expected = [.. Enumerable.Range(3, Waits).Select(lsn => lsn < 3 + AsyncCompletionBatch.Capacity ? new Lsn((ulong)lsn).ToString() : nameof(WalTruncatedException))];
        Assert.Equal(expected, outcomes);
        Assert.Equal(new Lsn(3), log.LastLsn);
        Assert.Equal(new Lsn(4), log.AppendDurable([4]));
    }

    /// <summary>
    /// 4,096 async loops appending with AppendDurableAsync, each append with its own token, which another thread cancels
    /// at random while the releaser completes the waits inline. Every loop ends, and every call ends once: returned with
    /// its LSN, or cancelled. Each call's payload carries its loop and sequence, so the log read back says what became of
    /// each: a call that returned holds exactly the record at its LSN; a cancelled one holds at most one record (its wait
    /// was cancelled after the append), or none (it was cancelled while it waited for space in its full stripe, before it
    /// took an LSN: the documented contract; a loop whose waits are cancelled appends again at once, so it can fill its
    /// stripe). Found by a full run: the first version counted every cancelled call as appended, and failed when one was
    /// cancelled waiting for space.
    /// </summary>
    [Fact]
    public async Task Thousands_of_async_appends_cancelled_while_being_completed_each_end_once()
    {
        const int Loops = 4_096;
        using var dir = new TempDirectory();
        using WriteAheadLog log = WriteAheadLog.Open(new WalOptions { Directory = dir.Log() });
        var tokens = new CancellationTokenSource?[Loops];
        var returned = new List<(long Sequence, ulong Lsn)>[Loops]; // per loop: the calls that returned, with their LSNs
        var cancelled = new List<long>[Loops];                       // per loop: the sequences of the calls that were cancelled
        using var loopsEnded = new CancellationTokenSource();
        var canceller = new Thread(() =>
        {
            var random = new Random(8);
            while (!loopsEnded.IsCancellationRequested)
            {
                try
                {
                    Volatile.Read(ref tokens[random.Next(Loops)])?.Cancel(); // acquire: pairs with the loop's publication
                }
                catch (ObjectDisposedException)
                {
                    // The loop's append completed and disposed its source meanwhile.
                }

                Thread.SpinWait(200);
            }
        });
        canceller.Start();
        try
        {
            await RunLoopsForThreeSecondsAsync(log, Loops, async (loop, stop) =>
            {
                List<(long, ulong)> mine = returned[loop] = [];
                List<long> mineCancelled = cancelled[loop] = [];
                byte[] payload = new byte[64]; // the call before has ended (and copied it) when the next one refills it
                for (long sequence = 0; !stop.IsCancellationRequested; sequence++)
                {
                    Payloads.FillTagged(payload, loop, sequence);
                    using var token = new CancellationTokenSource();
                    Volatile.Write(ref tokens[loop], token); // release: the canceller sees a fully made source
                    try
                    {
                        mine.Add((sequence, (await log.AppendDurableAsync(payload, token.Token).ConfigureAwait(false)).Value));
                    }
                    catch (OperationCanceledException)
                    {
                        mineCancelled.Add(sequence);
                    }

                    Volatile.Write(ref tokens[loop], null);
                }
            });
        }
        finally
        {
            loopsEnded.Cancel();
            Assert.True(canceller.Join(Long), "The canceller stops.");
        }

        log.Flush(); // the records of cancelled waits become durable too
        int returns = returned.Sum(r => r.Count);
        int cancellations = cancelled.Sum(c => c.Count);
        output.WriteLine($"{returns:N0} appends returned, {cancellations:N0} cancelled, LastLsn {log.LastLsn}, {log.Watermark.TestHookCompletions.TestHookRescues} rescues");
        Assert.True(cancellations > 0, "The canceller cancelled some waits.");

        // Read back: LSNs 1 to LastLsn, each record intact and made by exactly one call.
        var recorded = new Dictionary<(int Loop, long Sequence), ulong>();
        ulong expectedLsn = 1;
        using (WalReader reader = log.ReadFrom(new Lsn(1)))
        {
            while (reader.TryRead(out WalRecord record))
            {
                Assert.Equal(expectedLsn++, record.Lsn.Value);
                Assert.True(Payloads.TaggedIntact(record.Payload), $"Record {record.Lsn} is not a payload a call made.");
                Assert.True(recorded.TryAdd(Payloads.ReadTag(record.Payload), record.Lsn.Value), $"Record {record.Lsn} repeats a call's payload.");
            }
        }

        Assert.Equal(log.LastLsn.Value, expectedLsn - 1);
        Dictionary<long, ulong>[] returnedBySequence = [.. returned.Select(r => r.ToDictionary(c => c.Sequence, c => c.Lsn))];
        HashSet<long>[] cancelledSequences = [.. cancelled.Select(c => c.ToHashSet())];
        int cancelledAfterAppend = 0;
        foreach (((int loop, long sequence), ulong lsn) in recorded)
        {
            if (returnedBySequence[loop].TryGetValue(sequence, out ulong returnedLsn))
            {
                Assert.Equal(returnedLsn, lsn); // the call returned the LSN of its own record
            }
            else
            {
                Assert.True(cancelledSequences[loop].Contains(sequence), $"Record {lsn} (loop {loop}, call {sequence}) belongs to no call that ended.");
                cancelledAfterAppend++;
            }
        }

        Assert.Equal(returns, recorded.Count - cancelledAfterAppend); // every call that returned has its record
        output.WriteLine($"{cancelledAfterAppend:N0} cancelled after their append, {cancellations - cancelledAfterAppend:N0} before it");
        Assert.Equal(0, log.Watermark.TestHookRegisteredWaiters);
    }

    /// <summary>
    /// A disposed log whose async waits the releaser completed inline is garbage once dropped: the watchdog disarmed with
    /// its last batch, and its timer holds the watermark no longer.
    /// </summary>
    [Fact]
    public void A_disposed_log_is_not_kept_alive_by_the_watchdog()
    {
        using var dir = new TempDirectory();
        WeakReference watermark = DisposedAfterAsyncAppends(dir.Log());
        Assert.True(
            SpinWait.SpinUntil(
                () =>
                {
                    GC.Collect();
                    GC.WaitForPendingFinalizers();
                    return !watermark.IsAlive;
                },
                Long),
            "Nothing roots the disposed log's watermark.");
    }

    private const int Waits = 40;

    /// <summary>
    /// Holds the flush thread in its write of record 2, then makes <paramref name="count"/> durable appends (LSNs 3 on),
    /// the first of which runs <paramref name="first"/> in its continuation (inline, where the releaser completes it), the
    /// others with <paramref name="token"/>; <paramref name="release"/> lets the flush thread go, which writes them all in
    /// one write and one advance.
    /// </summary>
    private static Task<Lsn>[] HeldBackDurableAppends(
        WriteAheadLog log, FaultyStorage storage, int count, out Action release, Action<Lsn> first, CancellationToken token = default)
    {
        Assert.Equal(new Lsn(1), log.AppendDurable([1]));
        var held = new HeldWrites(storage);
        held.Hold();
        log.Append([2]);
        held.WaitUntilInWrite();
        var waits = new Task<Lsn>[count];
        waits[0] = Then(log.AppendDurableAsync(new byte[] { 3 }), first);
        for (int i = 1; i < count; i++)
        {
            waits[i] = log.AppendDurableAsync(new byte[] { (byte)(i + 3) }, token).AsTask();
        }

        Assert.Equal(new Lsn((ulong)count + 2), log.LastLsn);
        Assert.All(waits, t => Assert.False(t.IsCompleted, "Nothing is durable past LSN 1 while the flush thread is held."));
        release = held.Dispose;
        return waits;
    }

    /// <summary>Runs <paramref name="continuation"/> where <paramref name="wait"/> completes (inline in the releaser's batch), then returns the LSN.</summary>
    private static async Task<Lsn> Then(ValueTask<Lsn> wait, Action<Lsn> continuation)
    {
        Lsn lsn = await wait.ConfigureAwait(false);
        continuation(lsn);
        return lsn;
    }

    /// <summary>Opens a log, completes async durable appends through its releaser, disposes it; the watermark, weakly.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static WeakReference DisposedAfterAsyncAppends(string directory)
    {
        var log = WriteAheadLog.Open(new WalOptions { Directory = directory });
        Task<Lsn>[] appends = [.. Enumerable.Range(0, 64).Select(i => log.AppendDurableAsync(new byte[] { (byte)i }).AsTask())];
        Assert.True(AsyncReleaseReviewTests.CompletedWithin(appends, Long), "The appends complete.");
        var watermark = new WeakReference(log.Watermark);
        log.Dispose();
        return watermark;
    }

    /// <summary>
    /// 4,096 async loops awaiting AppendDurableAsync of 64 B (the perf probe's shape): in steady state the whole process
    /// allocates nothing per append, the inline completion's batches, watchdog and re-queued passes included (measured in
    /// the worker process, best of five one-second windows).
    /// </summary>
    [Fact]
    public void Four_thousand_async_appends_in_flight_allocate_nothing_per_append()
    {
        using var dir = new TempDirectory();
        string line = WorkerProcess.RunForLine("alloc-async-inflight", dir.Log());
        output.WriteLine(line);
        System.Text.RegularExpressions.Match match = System.Text.RegularExpressions.Regex.Match(line, "^allocated ([0-9]+) appends ([0-9]+)$");
        Assert.True(match.Success, line);
        long allocated = long.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
        long appends = long.Parse(match.Groups[2].Value, CultureInfo.InvariantCulture);

        // An allocation per append, or per batch of 16, is at least one 24-byte object each time: millions a window. The
        // window stays below one object per thousand appends. (Measured: 0 to 2,552 bytes a window for 1.2 to 6.2 million
        // appends, and the same before the inline completion (ed42a36): something of the runtime's, once a second or so.)
        Assert.True(appends >= 100_000 && allocated * 1000 < 24 * appends, $"{line}: the window must allocate less than one object per thousand appends.");
    }

    /// <summary>
    /// A continuation blocks the release pass that runs it (which holds the releaser's state word: advances after it only
    /// ask it to look again) for the whole test: five later advances, one at a time, still release their waits, through
    /// the one pass the watchdog queued for the stall and the passes queued after it: with one hand-off per stall (D2's
    /// fix), nothing more is queued for it, and nothing more is needed.
    /// </summary>
    [Fact]
    public async Task Advances_made_while_a_continuation_blocks_its_release_pass_are_released_by_other_threads()
    {
        using var watermark = new DurableWatermark(new Lsn(4));
        DurableWaiter blocking = watermark.TestHookRegisterUnparked(new Lsn(5), isAsync: true);
        using var blocked = new ManualResetEventSlim();
        using var unblock = new ManualResetEventSlim();
        AsyncCompletionsTests.Attach(blocking, _ =>
        {
            blocked.Set();
            unblock.Wait(TimeSpan.FromSeconds(30));
        });
        watermark.Advance(new Lsn(5));
        Assert.True(blocked.Wait(Long), "The first continuation runs and blocks its pass.");

        try
        {
            for (ulong lsn = 6; lsn <= 10; lsn++)
            {
                Task<Lsn> wait = watermark.WaitAsync(new Lsn(lsn), CancellationToken.None).AsTask();
                watermark.Advance(new Lsn(lsn));
                Assert.True(AsyncReleaseReviewTests.CompletedWithin([wait], Long), $"The wait for LSN {lsn} is released while the first continuation still blocks.");
                Assert.Equal(new Lsn(lsn), await wait);
                Assert.False(unblock.IsSet);
            }
        }
        finally
        {
            unblock.Set();
        }
    }

    /// <summary>
    /// Runs <paramref name="loops"/> async loops (<paramref name="loop"/>: its index and the stop token) on the thread pool
    /// against <paramref name="log"/> for 3 s, then asserts that every one ended within 17 s of the stop, naming where a
    /// lost wait is (still registered, or in a batch in flight, or in neither).
    /// </summary>
    private static async Task RunLoopsForThreeSecondsAsync(WriteAheadLog log, int loops, Func<int, CancellationToken, Task> loop)
    {
        using var stop = new CancellationTokenSource();
        Task[] running = [.. Enumerable.Range(0, loops).Select(i => Task.Run(() => loop(i, stop.Token)))];
        stop.CancelAfter(TimeSpan.FromSeconds(3));
        Task all = Task.WhenAll(running);
        Task first = await Task.WhenAny(all, Task.Delay(TimeSpan.FromSeconds(20)));
        Assert.True(
            ReferenceEquals(all, first),
            $"{running.Count(t => !t.IsCompleted)} of {loops} loops still wait 17 s after the stop (LastLsn {log.LastLsn}, durable {log.DurableLsn}, registered {log.Watermark.TestHookRegisteredWaiters}, batches in flight {log.Watermark.TestHookCompletions.TestHookInFlight}).");
        await all;
    }

    /// <summary>A watermark at LSN 4 with async waiters for 5 and 6 registered (no continuation yet), for a test to attach theirs.</summary>
    private static DurableWatermark TwoAsyncWaiters(out DurableWaiter first, out DurableWaiter second)
    {
        var watermark = new DurableWatermark(new Lsn(4));
        first = watermark.TestHookRegisterUnparked(new Lsn(5), isAsync: true);
        second = watermark.TestHookRegisterUnparked(new Lsn(6), isAsync: true);
        return watermark;
    }

    /// <summary>A pooled async waiter as a release pass hands it to a batch: prepared, taken from the registry, its outcome (durable) set.</summary>
    private static DurableWaiter Released(DurableWatermark watermark, ulong lsn)
    {
        var waiter = new DurableWaiter(watermark);
        waiter.PrepareAsync(lsn, CancellationToken.None);
        waiter.SetOutcome(null);
        return waiter;
    }

    /// <summary>Stands for the watermark's releaser: counts the release passes the watchdog queues.</summary>
    private sealed class CountingWorkItem : IThreadPoolWorkItem
    {
        private int _runs;

        public int Runs => Volatile.Read(ref _runs); // acquire: a fresh count for the test thread

        public void Execute() => Interlocked.Increment(ref _runs); // atomic: runs may overlap on several pool threads
    }
}
