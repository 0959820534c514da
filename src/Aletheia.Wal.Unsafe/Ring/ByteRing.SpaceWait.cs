namespace Aletheia.Wal.Ring;

// Waiting for ring space without a thread: the async form of the park in Reserve, in the same Dekker protocol with
// Release (the producer announces itself in the parked-producer count, fences and reads Head again; the consumer stores
// Head, fences and reads the count), and woken by Close too. A part of its own because it is not an unsafe context,
// unlike the rest of the ring: C# allows no await in one.
internal sealed partial class ByteRing
{
    private TaskCompletionSource? _spaceFreed; // guarded by _spaceGate: what async waiters await; the next wake completes it

    /// <summary>
    /// Producer: announces a wait for space without a thread, the async form of the park in <see cref="Reserve"/>. The
    /// caller must then try its reservation again (a release that came before the announcement is seen by that try),
    /// await the returned task only if the ring is still full, and call <see cref="EndSpaceWait"/> once, whatever
    /// happened. The task completes at the next release after the announcement, or at <see cref="Close"/>; it never
    /// faults. Its continuations run on the thread pool, never on the consumer's thread.
    /// </summary>
    public Task BeginSpaceWait()
    {
        _consumerSignal?.RequestDrain();
        lock (_spaceGate)
        {
            // Full fence: this increment is visible before the Head load of the caller's next TryReserve; Release stores
            // Head, fences, then reads _parkedProducers. One of the two sides sees the other (Dekker), as in ReserveSlow.
            // The task is taken under the same lock as the increment, so a release that sees the increment completes
            // this task (it takes the lock after us), not only a later one.
            Interlocked.Increment(ref _parkedProducers);
            Flush.DurableWatermark.FullFenceOnArm();
            _spaceFreed ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return _spaceFreed.Task;
        }
    }

    /// <summary>Producer: ends a wait announced by <see cref="BeginSpaceWait"/>.</summary>
    // Interlocked keeps the count exact for Release; no ordering needed: a release that still sees it only wakes for nothing.
    public void EndSpaceWait() => Interlocked.Decrement(ref _parkedProducers);

    /// <summary>
    /// Producer: waits, without a thread, for <paramref name="spaceFreed"/> (from <see cref="BeginSpaceWait"/>), at most
    /// <see cref="ParkMilliseconds"/>, like a sync park: the bound only matters if a wake-up were lost.
    /// </summary>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public static async ValueTask WaitForSpaceAsync(Task spaceFreed, CancellationToken cancellationToken)
    {
        if (!spaceFreed.IsCompleted)
        {
            // The slow path may allocate (a timer, the WhenAny task); it runs only while the ring is full.
            await Task.WhenAny(spaceFreed, Task.Delay(ParkMilliseconds, cancellationToken)).ConfigureAwait(false);
        }

        cancellationToken.ThrowIfCancellationRequested();
    }

    /// <summary>Wakes every producer waiting for space: sync ones parked on the monitor, async ones awaiting the task.</summary>
    private void WakeSpaceWaiters()
    {
        lock (_spaceGate)
        {
            Monitor.PulseAll(_spaceGate);

            // Under the lock, with BeginSpaceWait: every waiter that announced itself before this point holds this task.
            // TrySetResult runs no continuation here (RunContinuationsAsynchronously): they go to the thread pool.
            _spaceFreed?.TrySetResult();
            _spaceFreed = null;
        }
    }
}
