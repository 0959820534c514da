using System.Diagnostics;
using System.Diagnostics.Tracing;
using System.Runtime.CompilerServices;
using Aletheia.Wal.Diagnostics;
using Aletheia.Wal.Flush;
using Aletheia.Wal.Reading;
using Aletheia.Wal.Recovery;
using Aletheia.Wal.Ring;
using Aletheia.Wal.Storage;
using Aletheia.Wal.Stripes;

namespace Aletheia.Wal;

/// <summary>
/// A write-ahead log: appends from any number of threads into striped native rings, one flush thread that merges them in
/// LSN order and writes them write-through, and durability reported by watermark. LSNs are 1, 2, 3, ... with no hole,
/// across reopen too. Thread-safe.
/// </summary>
public sealed class WriteAheadLog : IDisposable, IAsyncDisposable
{
    [ThreadStatic]
    private static int t_stripeSlot;
    private static int s_nextStripeSlot;

    /// <summary>How long a cancellable append waits for space on a full stripe before it checks its token again.</summary>
    private const int SpaceWaitSliceMilliseconds = 20;

    private readonly WalStorage _storage;
    private readonly string _directory;
    private readonly int _maxEntryBytes;
    private readonly DirectoryLock _lock;
    private readonly Stripe[] _stripes;
    private readonly LsnSequence _lsns;
    private readonly DurableWatermark _watermark;
    private readonly FlushDoorbell _doorbell;
    private readonly SegmentWriter _segments;
    private readonly FlushCoordinator _flusher;
    private readonly RecoveredLog _recovered;
    private readonly WalTelemetry _telemetry;
    private readonly object _truncateGate = new();
    private LogHead _head; // guarded by _truncateGate
    private StrongBox<LogHead> _publishedHead; // the head as readers use it (Volatile): replaced, never changed, under _truncateGate
    private long _oldest;  // _head.FirstLsn, readable without the lock
    private long _cutGeneration; // odd while a TruncateAfter runs; readers compare it to notice one
    private int _disposed;

    private WriteAheadLog(
        WalStorage storage, string directory, WalOptions options, DirectoryLock directoryLock, RecoveredLog recovered, LogHead head, SegmentWriter segments,
        WalTelemetry telemetry)
    {
        _storage = storage;
        _telemetry = telemetry;
        _directory = directory;
        _maxEntryBytes = options.MaxEntryBytes;
        _lock = directoryLock;
        _recovered = recovered;
        _head = head;
        _publishedHead = new StrongBox<LogHead>(head);
        _oldest = (long)head.FirstLsn;
        _segments = segments;
        _lsns = new LsnSequence(recovered.LastLsn);
        _watermark = new DurableWatermark(new Lsn(recovered.LastLsn), _lsns);
        _doorbell = new FlushDoorbell();
        _stripes = new Stripe[options.StripeCount];
        for (int i = 0; i < _stripes.Length; i++)
        {
            _stripes[i] = new Stripe(i, options.StripeCapacityBytes, _doorbell);
        }

        _flusher = new FlushCoordinator(_stripes, _lsns, _watermark, _doorbell, segments, options.WriteBufferBytes, "wal", telemetry, options.ReserveSegmentsDuringBursts);
        _flusher.Start();
        if (head.CutFrom != 0)
        {
            _ = ForgetRecordedCutOnceDurableAsync(new Lsn(head.CutFrom));
        }

        WalMeter.Register(this); // last: the observable instruments read a log only once it is whole
    }

    /// <summary>The highest LSN handed out (<see cref="Lsn.None"/> for an empty log).</summary>
    public Lsn LastLsn => _lsns.Last;

    /// <summary>Every record at or below this LSN has returned from a write-through write: it is on disk.</summary>
    public Lsn DurableLsn => _watermark.Durable;

    /// <summary>The log directory (full path).</summary>
    public string Directory => _directory;

    /// <summary>
    /// The first LSN still readable: the first LSN of the oldest segment kept (<see cref="TruncateBefore"/> moves it up);
    /// <see cref="Lsn.None"/> when the log holds no record.
    /// </summary>
    public Lsn OldestLsn
    {
        get
        {
            // Acquire: pairs with the release store in RemoveSegmentsBefore, made once the new head is durable.
            ulong oldest = (ulong)Volatile.Read(ref _oldest);
            return LastLsn.Value >= oldest ? new Lsn(oldest) : Lsn.None;
        }
    }

    internal WalStorage Storage => _storage;

    internal DurableWatermark Watermark => _watermark;

    // Volatile: a fresh read of the flag Dispose sets with Interlocked.Exchange; a reader that misses it only waits once more.
    internal bool IsDisposed => Volatile.Read(ref _disposed) != 0;

    /// <summary>Odd while a <see cref="TruncateAfter"/> runs, and different after each: a live reader checks it before it returns a record it read.</summary>
    // Acquire: pairs with the increments (full fences) in TruncateAfter; a reader that sees the old even value read its
    // bytes before the cut began.
    internal long CutGeneration => Volatile.Read(ref _cutGeneration);

    /// <summary>
    /// Opens the log in <see cref="WalOptions.Directory"/>: creates the directory if needed (with
    /// <see cref="WalOptions.UnixCreateMode"/>), takes the writer's lock, recovers (see <see cref="WalOptions.RecoveryMode"/>)
    /// and starts the flush thread. On return the log continues after the last record recovery kept; every file it created
    /// has exactly <see cref="WalOptions.UnixCreateMode"/> (Unix).
    /// </summary>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> is null.</exception>
    /// <exception cref="ArgumentException">
    /// Options are invalid, all checked before anything is created: the message has one line for each bad option, naming
    /// it, its value and its allowed range (<c>WalOptions.StripeCount must be from 1 to 1024; it is 0.</c>), after a first
    /// line counting them when there are several. <see cref="ArgumentException.ParamName"/> is the option's name when only
    /// one is bad, else null.
    /// </exception>
    /// <exception cref="WalException">
    /// Another writer holds the directory, in this process or another; the directory is a file or cannot be written;
    /// the directory holds other files but no log and <see cref="WalOptions.AllowForeignFiles"/> is false (the message names
    /// the directory and the first files; nothing was created in it); or the log cannot be read.
    /// </exception>
    /// <exception cref="WalCorruptionException">The log is damaged beyond what the recovery mode accepts.</exception>
    public static WriteAheadLog Open(WalOptions options) => Open(options, WalStorage.Files);

    /// <summary>
    /// Makes the names created, renamed or deleted in <paramref name="directory"/> durable, as the log does for its own
    /// files: on Linux and other Unix systems an fsync(2) of the directory; on Windows nothing (NTFS journals directory
    /// metadata). For files an application keeps beside a log, such as the Raft layer's <c>raft.state</c> and
    /// <c>raft.snapshot</c>.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="directory"/> is null or empty.</exception>
    /// <exception cref="IOException">The directory cannot be opened, or its fsync failed (errno in the message).</exception>
    public static void SyncDirectory(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        WalStorage.Files.SyncDirectory(directory);
    }

    internal static WriteAheadLog Open(WalOptions options, WalStorage storage)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (!BitConverter.IsLittleEndian)
        {
            throw new PlatformNotSupportedException("Aletheia.Wal.Unsafe writes little-endian frames in place and runs on little-endian platforms only.");
        }

        string directory = Path.GetFullPath(options.Directory);
        if (File.Exists(directory))
        {
            throw new WalException($"The log directory '{directory}' is a file, not a directory.");
        }

        try
        {
            LogDirectory.Create(directory, options.UnixCreateMode);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new WalException($"Cannot create the log directory '{directory}': {e.Message}", e);
        }

        if (!options.AllowForeignFiles)
        {
            LogDirectory.RefuseForeignFiles(storage, directory);
        }

        storage = storage.WithCreateMode(options.UnixCreateMode).WithWriteMode(options.WriteMode);
        DirectoryLock directoryLock = DirectoryLock.Acquire(directory, options.UnixCreateMode);
        SegmentWriter? segments = null;
        try
        {
            (RecoveredLog recovered, double recoverySeconds) = Recover(storage, directory, options);
            List<ulong> reusable = recovered.Reusable;
            ulong number;
            long offset = 0;
            WalFile current;
            if (recovered.WriteSegment != 0)
            {
                number = recovered.WriteSegment;
                offset = recovered.WriteOffset;
                current = storage.OpenWrite(SegmentNames.PathOf(directory, number), writeThrough: true);
            }
            else if (reusable.Count > 0)
            {
                number = reusable[0];
                reusable.RemoveAt(0);
                current = storage.OpenWrite(SegmentNames.PathOf(directory, number), writeThrough: true);
            }
            else
            {
                // An empty log starts at its head: segment and LSN numbering never go below what the directory holds.
                number = recovered.Head.Segment;
                current = SegmentWriter.Prepare(storage, directory, number, options.SegmentSizeBytes);
            }

            segments = new SegmentWriter(
                storage, directory, options.SegmentSizeBytes, recovered.Head.LogId, current, number, offset, recovered.WriteSegmentMaxWriteBytes,
                recovered.WriteSegmentSize, (uint)FlushCoordinator.MaxWriteBytesFor(options.WriteBufferBytes), reusable, recovered.Recycled,
                options.MaxRecycledSegments);
            LogHead head = recovered.Head;
            if (!segments.IsOpened)
            {
                // The head of an empty log: opened before anything goes into it, and wal.head says so, so that from now on
                // a missing or zero head segment reads as damage, not as a log whose creation stopped short.
                segments.Open(recovered.LastLsn + 1);
                head = head with { Sequence = head.Sequence + 1, HeadOpened = true };
                LogHeadFile.Write(storage, directory, head);
            }

            var telemetry = new WalTelemetry(directory, options.Name)
            {
                RecoveryKeptRecords = (long)recovered.KeptRecords,
                RecoveryDroppedRecords = (long)recovered.DroppedRecords,
                RecoverySeconds = recoverySeconds,
            };
            return new WriteAheadLog(storage, directory, options, directoryLock, recovered, head, segments, telemetry);
        }
        catch (Exception e)
        {
            segments?.Dispose();
            directoryLock.Dispose();
            if (e is WalException or ArgumentException)
            {
                throw;
            }

            if (e is IOException or UnauthorizedAccessException)
            {
                throw new WalException($"Cannot open the log in '{directory}': {e.Message}", e);
            }

            throw;
        }
    }

    /// <summary>
    /// Recovery at open (<see cref="LogRecovery.Recover"/>), timed, with its events: started, then finished (Warning when
    /// records were dropped) or failed.
    /// </summary>
    /// <returns>What recovery found and left, and how long it took in seconds.</returns>
    private static (RecoveredLog Log, double Seconds) Recover(WalStorage storage, string directory, WalOptions options)
    {
        WalEventSource events = WalEventSource.Log;
        if (events.IsEnabled(EventLevel.Informational, WalEventSource.Keywords.Recovery))
        {
            events.RecoveryStarted(directory, options.RecoveryMode.ToString());
        }

        long started = Stopwatch.GetTimestamp();
        RecoveredLog recovered;
        try
        {
            recovered = LogRecovery.Recover(storage, directory, options.RecoveryMode, options.SegmentSizeBytes, options.MaxRecycledSegments);
        }
        catch (Exception e)
        {
            if (events.IsEnabled(EventLevel.Error, WalEventSource.Keywords.Recovery))
            {
                events.RecoveryFailed(
                    directory, options.RecoveryMode.ToString(), e.GetType().FullName ?? e.GetType().Name, e.Message, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            }

            throw;
        }

        TimeSpan elapsed = Stopwatch.GetElapsedTime(started);
        if (recovered.DroppedFrom != 0)
        {
            if (events.IsEnabled(EventLevel.Warning, WalEventSource.Keywords.Recovery))
            {
                events.RecoveryDroppedRecords(
                    directory, options.RecoveryMode.ToString(), recovered.Verdict.ToString(), recovered.KeptRecords, recovered.DroppedFrom, recovered.DroppedTo, elapsed.TotalMilliseconds);
            }
        }
        else if (events.IsEnabled(EventLevel.Informational, WalEventSource.Keywords.Recovery))
        {
            events.RecoveryFinished(directory, options.RecoveryMode.ToString(), recovered.Verdict.ToString(), recovered.KeptRecords, 0, 0, elapsed.TotalMilliseconds);
        }

        return (recovered, elapsed.TotalSeconds);
    }

    /// <summary>
    /// Appends a record. On return it is in a stripe and has its LSN; it becomes durable soon, unprompted (no
    /// <see cref="Flush()"/> needed). Blocks while the calling thread's stripe is full (backpressure on this caller only).
    /// </summary>
    /// <exception cref="ArgumentException">The payload is longer than <see cref="WalOptions.MaxEntryBytes"/> (both sizes named).</exception>
    /// <exception cref="WalException">The log is faulted.</exception>
    /// <exception cref="ObjectDisposedException">The log is disposed (or being disposed).</exception>
    public Lsn Append(ReadOnlySpan<byte> payload)
    {
        CheckAppend(payload.Length);
        RingStatus status = CurrentStripe().AppendBlocking(payload, _lsns, out Lsn lsn);
        if (status != RingStatus.Success)
        {
            ThrowNotAppended();
        }

        _doorbell.OnPublished();
        return lsn;
    }

    /// <summary>Appends a record if the calling thread's stripe has room now; never blocks.</summary>
    /// <returns>False (and <see cref="Lsn.None"/>) when the stripe is full, or a <see cref="TruncateAfter"/> is running; nothing was appended and no LSN taken.</returns>
    /// <exception cref="ArgumentException">The payload is longer than <see cref="WalOptions.MaxEntryBytes"/>.</exception>
    /// <exception cref="WalException">The log is faulted.</exception>
    /// <exception cref="ObjectDisposedException">The log is disposed.</exception>
    public bool TryAppend(ReadOnlySpan<byte> payload, out Lsn lsn)
    {
        CheckAppend(payload.Length);
        RingStatus status = CurrentStripe().TryAppend(payload, _lsns, out lsn);
        if (status == RingStatus.Success)
        {
            _doorbell.OnPublished();
            return true;
        }

        if (status == RingStatus.Closed)
        {
            ThrowNotAppended();
        }

        return false;
    }

    /// <summary>
    /// Appends a record of <paramref name="length"/> bytes that <paramref name="writer"/> serializes in place, straight into
    /// ring memory (no copy). If the writer throws, nothing is appended, no LSN is consumed and the exception propagates.
    /// Otherwise as <see cref="Append(ReadOnlySpan{byte})"/>: the record's LSN is taken when the writer returns.
    /// </summary>
    /// <remarks>
    /// The writer runs on the calling thread, once ring space for the record is reserved in the calling thread's stripe
    /// and before the LSN is taken. It may block: sleep, take locks, wait for other threads, also for threads appending to
    /// this log. Meanwhile every other record, in its stripe too, is merged and becomes durable as usual: the writer delays
    /// only its own record, and the release of its stripe's ring space from its record on (space is given back in ring
    /// order). So, while the writer runs, its stripe fills up with the records appended behind it, and once it is full,
    /// appends into that stripe wait for the writer to return (<see cref="TryAppend"/> returns false). Hence what the
    /// writer must not do:
    /// <list type="bullet">
    /// <item>Wait for appends that may need more ring space than its stripe has left: any other thread may share the
    /// stripe (stripes are assigned to threads round-robin), and an append that finds it full waits for this writer
    /// while this writer waits for it, for good.</item>
    /// <item>Append to this log itself: the append goes into the same stripe, behind this reservation. It works while the
    /// stripe has room; once the stripe is full it waits for space only this writer's return frees (a deadlock).</item>
    /// <item>Wait for <see cref="Dispose"/>: disposal waits until the writer has returned and its record is written.</item>
    /// <item>Wait for <see cref="TruncateAfter"/>, or for a thread calling <see cref="TruncateBefore"/> or
    /// <see cref="TruncateAfter"/> while one may run: a cut waits for running writers to return (their records' LSNs are
    /// ordered before it), and holds the truncation lock meanwhile.</item>
    /// </list>
    /// The span passed to the writer is valid only during the call.
    /// </remarks>
    public Lsn Append<TState>(int length, TState state, WalPayloadWriter<TState> writer)
        where TState : allows ref struct
    {
        ArgumentNullException.ThrowIfNull(writer);
        CheckAppend(length);
        RingStatus status = CurrentStripe().AppendBlocking(length, state, writer, _lsns, out Lsn lsn);
        if (status != RingStatus.Success)
        {
            ThrowNotAppended();
        }

        _doorbell.OnPublished();
        return lsn;
    }

    /// <summary>Appends a record and waits until it is on disk (returned from a write-through write).</summary>
    /// <exception cref="WalException">The log is faulted: the record is not acknowledged.</exception>
    public Lsn AppendDurable(ReadOnlySpan<byte> payload)
    {
        Lsn lsn = Append(payload);

        // The epoch of its own record (taken on this thread by the append): a TruncateAfter that drops it before the wait
        // sees it durable makes the wait throw, even once the LSN is durable again with another record.
        _watermark.Wait(lsn, Timeout.Infinite, default, LsnSequence.ResetsAtLastTake);
        return lsn;
    }

    /// <summary>
    /// Appends a record and waits until it is on disk (returned from a write-through write), or until
    /// <paramref name="cancellationToken"/> is cancelled. Cancellation follows <see cref="AppendDurableAsync"/>'s rule.
    /// </summary>
    /// <remarks>
    /// <para>When the calling thread's stripe has room, the record is appended at once, even with a cancelled token.
    /// When it is full, the call waits for space (see <see cref="Append(ReadOnlySpan{byte})"/>) and a cancellation
    /// meanwhile (or a token cancelled already) ends it with <see cref="OperationCanceledException"/>, nothing appended
    /// and no LSN taken; the token is checked there about every 20 ms.</para>
    /// <para>Once the record is appended, cancellation cancels only the wait: the call throws
    /// <see cref="OperationCanceledException"/>, and the record stays appended and becomes durable (unless the log
    /// faults), but the caller does not learn its LSN. A record durable before the cancellation is seen returns its LSN.</para>
    /// </remarks>
    /// <returns>The record's LSN; on return it is durable.</returns>
    /// <exception cref="ArgumentException">The payload is longer than <see cref="WalOptions.MaxEntryBytes"/>; nothing appended.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled first (see remarks for whether the record was appended).</exception>
    /// <exception cref="WalException">The log is faulted: the record, if appended, is not acknowledged.</exception>
    /// <exception cref="ObjectDisposedException">The log is disposed (or being disposed), before the record was appended or before it became durable.</exception>
    public Lsn AppendDurable(ReadOnlySpan<byte> payload, CancellationToken cancellationToken)
    {
        CheckAppend(payload.Length);
        Stripe stripe = CurrentStripe();
        RingStatus status = stripe.TryAppend(payload, _lsns, out Lsn lsn);
        while (status == RingStatus.Full)
        {
            // The ring's space wait takes no token: wait in slices, and check the token between them. The ring's own
            // park is 20 ms at most too, so the slices add no wake-up a plain blocking append would not make.
            cancellationToken.ThrowIfCancellationRequested();
            status = stripe.AppendBlocking(payload, _lsns, out lsn, cancellationToken.CanBeCanceled ? SpaceWaitSliceMilliseconds : Timeout.Infinite, retry: true);
        }

        if (status != RingStatus.Success)
        {
            ThrowNotAppended();
        }

        int epoch = LsnSequence.ResetsAtLastTake; // as in AppendDurable(payload)
        _doorbell.OnPublished();
        _watermark.Wait(lsn, Timeout.Infinite, cancellationToken, epoch);
        return lsn;
    }

    /// <summary>
    /// Appends a record and waits at most <paramref name="timeout"/> until it is on disk (returned from a write-through
    /// write). The timeout covers the whole call: the wait for space on a full stripe, then the wait for durability.
    /// </summary>
    /// <param name="payload">The record.</param>
    /// <param name="timeout">How long to wait at most; <see cref="TimeSpan.Zero"/> appends only if the stripe has room
    /// now and then checks once; <see cref="Timeout.InfiniteTimeSpan"/> waits as <see cref="AppendDurable(ReadOnlySpan{byte})"/>.</param>
    /// <param name="lsn">The record's LSN when it was appended (whatever the result); <see cref="Lsn.None"/> when it was not.</param>
    /// <returns>
    /// True: the record is appended and durable, its LSN in <paramref name="lsn"/>. False with <paramref name="lsn"/> set:
    /// the record is appended (and stays so) but was not durable when the timeout passed; it becomes durable later unless
    /// the log faults or a <see cref="TruncateAfter"/> drops it (<see cref="WaitForDurable(Lsn)"/> waits for its LSN:
    /// after a cut that dropped it, the LSN names another record, so an engine that cuts keeps track of its cuts). False
    /// with <see cref="Lsn.None"/>: the stripe stayed full for the whole timeout; nothing was appended and no LSN taken.
    /// </returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="timeout"/> is negative (other than infinite) or more than <see cref="int.MaxValue"/> milliseconds.</exception>
    /// <exception cref="ArgumentException">The payload is longer than <see cref="WalOptions.MaxEntryBytes"/>; nothing appended.</exception>
    /// <exception cref="WalException">The log is faulted: the record, if appended, is not acknowledged.</exception>
    /// <exception cref="ObjectDisposedException">The log is disposed (or being disposed), before the record was appended or before it became durable.</exception>
    public bool TryAppendDurable(ReadOnlySpan<byte> payload, TimeSpan timeout, out Lsn lsn)
    {
        int milliseconds = TimeoutMilliseconds(timeout);
        CheckAppend(payload.Length);
        long started = Environment.TickCount64;
        RingStatus status = CurrentStripe().AppendBlocking(payload, _lsns, out lsn, milliseconds);
        if (status == RingStatus.Full)
        {
            lsn = Lsn.None; // the timeout passed on a full stripe: nothing appended
            return false;
        }

        if (status != RingStatus.Success)
        {
            ThrowNotAppended();
        }

        int epoch = LsnSequence.ResetsAtLastTake; // as in AppendDurable(payload)
        _doorbell.OnPublished();
        return _watermark.Wait(lsn, DurableWatermark.RemainingMilliseconds(started, milliseconds), default, epoch);
    }

    /// <summary>
    /// Appends a record and completes once it is on disk. Never blocks the calling thread. When the calling thread's
    /// stripe has room, the append happens before this returns (allocating nothing); when it is full, the call returns a
    /// pending task at once and appends when space frees, without holding a thread meanwhile. Completions never run on
    /// the flush thread.
    /// </summary>
    /// <remarks>
    /// <para>Cancellation while the call waits for space on a full stripe ends it cancelled with nothing appended and no
    /// LSN taken (also when the token is cancelled already). Once the record is appended (at once when the stripe has
    /// room, even with a cancelled token) cancellation cancels only the wait: the record stays appended and becomes
    /// durable.</para>
    /// <para>A faulted or disposed log fails the returned task (with <see cref="WalException"/> or
    /// <see cref="ObjectDisposedException"/>), also when it faults or is disposed while the call waits for space.</para>
    /// </remarks>
    /// <exception cref="ArgumentException">Thrown at once: the payload is longer than <see cref="WalOptions.MaxEntryBytes"/>.</exception>
    public ValueTask<Lsn> AppendDurableAsync(ReadOnlyMemory<byte> payload, CancellationToken cancellationToken = default)
    {
        ValueTask<(RingStatus Status, Lsn Lsn, int Epoch)> appended;
        try
        {
            CheckAppend(payload.Length);

            // The stripe is chosen here, once: it comes from a thread-static slot, and a continuation after an await may
            // run on another thread.
            appended = CurrentStripe().AppendAsync(payload, _lsns, cancellationToken);
            if (appended.IsCompletedSuccessfully)
            {
                (RingStatus status, Lsn lsn, int epoch) = appended.Result;
                if (status != RingStatus.Success)
                {
                    ThrowNotAppended();
                }

                _doorbell.OnPublished();
                return _watermark.WaitAsync(lsn, cancellationToken, epoch); // as in AppendDurable(payload)
            }
        }
        catch (Exception e) when (e is WalException or ObjectDisposedException)
        {
            return ValueTask.FromException<Lsn>(e);
        }

        return AppendedThenDurableAsync(appended, cancellationToken);
    }

    /// <summary>Waits until every record up to <paramref name="lsn"/> is durable. Spins briefly, then parks.</summary>
    /// <remarks>
    /// A wait for an LSN, whoever's record holds it: after a <see cref="TruncateAfter"/> below it, the LSN is handed out
    /// again to another record, and the wait (if it started after the cut) is for that one. A wait parked when the cut
    /// drops its LSN throws <see cref="WalTruncatedException"/>. The durable appends (<see cref="AppendDurable(ReadOnlySpan{byte})"/>,
    /// <see cref="AppendDurableAsync"/>) wait for their own record, and throw if a cut dropped it.
    /// </remarks>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="lsn"/> was never handed out.</exception>
    /// <exception cref="WalException">The log is faulted.</exception>
    /// <exception cref="WalTruncatedException">A <see cref="TruncateAfter"/> dropped the record while the wait was parked.</exception>
    public void WaitForDurable(Lsn lsn)
    {
        CheckWait(lsn);
        _watermark.Wait(lsn);
    }

    /// <summary>Waits at most <paramref name="timeout"/> until every record up to <paramref name="lsn"/> is durable. Spins briefly, then parks.</summary>
    /// <param name="lsn">The LSN to wait for.</param>
    /// <param name="timeout">How long to wait at most; <see cref="TimeSpan.Zero"/> checks once; <see cref="Timeout.InfiniteTimeSpan"/> waits as <see cref="WaitForDurable(Lsn)"/>.</param>
    /// <returns>
    /// True: every record up to <paramref name="lsn"/> is durable. False: the timeout passed first; the records stay
    /// appended and may become durable later. Allocates nothing either way.
    /// </returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="lsn"/> was never handed out, or <paramref name="timeout"/> is negative (other than infinite) or more than <see cref="int.MaxValue"/> milliseconds.</exception>
    /// <exception cref="WalException">The log is faulted (before or during the wait).</exception>
    /// <exception cref="ObjectDisposedException">The log is disposed, or was disposed during the wait before <paramref name="lsn"/> became durable.</exception>
    public bool WaitForDurable(Lsn lsn, TimeSpan timeout)
    {
        int milliseconds = TimeoutMilliseconds(timeout);
        CheckWait(lsn);
        return _watermark.Wait(lsn, milliseconds);
    }

    /// <summary>
    /// Waits until every record up to <paramref name="lsn"/> is durable, or until <paramref name="cancellationToken"/> is
    /// cancelled. Cancellation cancels the wait only: the records stay appended and become durable.
    /// </summary>
    /// <remarks>Returns normally when the records are durable already, even with a cancelled token.</remarks>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="lsn"/> was never handed out.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled before the records were seen durable.</exception>
    /// <exception cref="WalException">The log is faulted (before or during the wait).</exception>
    /// <exception cref="ObjectDisposedException">The log is disposed, or was disposed during the wait before <paramref name="lsn"/> became durable.</exception>
    public void WaitForDurable(Lsn lsn, CancellationToken cancellationToken)
    {
        CheckWait(lsn);
        _watermark.Wait(lsn, Timeout.Infinite, cancellationToken);
    }

    /// <summary>Completes when every record up to <paramref name="lsn"/> is durable; cancellation cancels the wait only.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="lsn"/> was never handed out.</exception>
    public ValueTask WaitForDurableAsync(Lsn lsn, CancellationToken cancellationToken = default)
    {
        CheckWait(lsn);
        return _watermark.WaitWithoutResultAsync(lsn, cancellationToken);
    }

    /// <summary>Returns once every record appended before the call is durable.</summary>
    /// <exception cref="WalException">The log is faulted.</exception>
    /// <exception cref="WalTruncatedException">A <see cref="TruncateAfter"/> made during the call dropped records appended before it: they are not durable, and never will be.</exception>
    public void Flush()
    {
        CheckOpen();
        (Lsn last, int epoch) = FlushTarget();
        if (last != Lsn.None)
        {
            _watermark.Wait(last, Timeout.Infinite, default, epoch);
        }
    }

    /// <summary>Waits at most <paramref name="timeout"/> until every record appended before the call is durable.</summary>
    /// <param name="timeout">How long to wait at most; <see cref="TimeSpan.Zero"/> checks once; <see cref="Timeout.InfiniteTimeSpan"/> waits as <see cref="Flush()"/>.</param>
    /// <returns>
    /// True: every record appended before the call is durable. False: the timeout passed first; the records stay appended
    /// and may become durable later. Allocates nothing either way.
    /// </returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="timeout"/> is negative (other than infinite) or more than <see cref="int.MaxValue"/> milliseconds.</exception>
    /// <exception cref="WalException">The log is faulted (before or during the wait).</exception>
    /// <exception cref="WalTruncatedException">A <see cref="TruncateAfter"/> made during the call dropped records appended before it: they are not durable, and never will be.</exception>
    /// <exception cref="ObjectDisposedException">The log is disposed, or was disposed during the wait before the records became durable.</exception>
    public bool Flush(TimeSpan timeout)
    {
        int milliseconds = TimeoutMilliseconds(timeout);
        CheckOpen();
        (Lsn last, int epoch) = FlushTarget();
        return last == Lsn.None || _watermark.Wait(last, milliseconds, default, epoch);
    }

    /// <summary>
    /// Returns once every record appended before the call is durable, or throws once <paramref name="cancellationToken"/>
    /// is cancelled. Cancellation cancels the wait only: the records stay appended and become durable.
    /// </summary>
    /// <remarks>Returns normally when the records are durable already, even with a cancelled token.</remarks>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled before the records were seen durable.</exception>
    /// <exception cref="WalException">The log is faulted (before or during the wait).</exception>
    /// <exception cref="WalTruncatedException">A <see cref="TruncateAfter"/> made during the call dropped records appended before it: they are not durable, and never will be.</exception>
    /// <exception cref="ObjectDisposedException">The log is disposed, or was disposed during the wait before the records became durable.</exception>
    public void Flush(CancellationToken cancellationToken)
    {
        CheckOpen();
        (Lsn last, int epoch) = FlushTarget();
        if (last != Lsn.None)
        {
            _watermark.Wait(last, Timeout.Infinite, cancellationToken, epoch);
        }
    }

    /// <summary>
    /// Completes once every record appended before the call is durable. Never blocks the calling thread; allocates nothing
    /// when the records are durable already or the wait completes without cancellation. Completions never run on the
    /// flush thread. Cancellation cancels the wait only: the records stay appended and become durable.
    /// </summary>
    /// <remarks>
    /// Failures are reported through the returned task, never thrown by the call: it faults with
    /// <see cref="WalException"/> when the log is faulted (or faults during the wait), with
    /// <see cref="ObjectDisposedException"/> when the log is disposed (or is disposed during the wait before the records
    /// became durable), with <see cref="WalTruncatedException"/> when a <see cref="TruncateAfter"/> made during the wait
    /// dropped records appended before the call, and is cancelled when <paramref name="cancellationToken"/> is cancelled
    /// first (it completes successfully when the records are durable already, even with a cancelled token).
    /// </remarks>
    public ValueTask FlushAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            CheckOpen();
        }
        catch (Exception e) when (e is WalException or ObjectDisposedException)
        {
            return ValueTask.FromException(e);
        }

        (Lsn last, int epoch) = FlushTarget();
        return last == Lsn.None ? default : _watermark.WaitWithoutResultAsync(last, cancellationToken, epoch);
    }

    /// <summary>
    /// Removes, durably, every segment whose records all lie below <paramref name="lsn"/>; never the segment holding
    /// <paramref name="lsn"/>, a later one, or the one being written; <paramref name="lsn"/> is taken as at most
    /// <see cref="DurableLsn"/>. The new head of the log is written to <c>wal.head</c> (write-through) before any segment
    /// is touched, so the removals may reach the disk in any order: after a crash, what is left below the head is removed
    /// at open. Up to <see cref="WalOptions.MaxRecycledSegments"/> of the removed segments are kept (renamed
    /// <c>*.recycle</c>) and reused as future segments; the others are deleted.
    /// </summary>
    /// <exception cref="WalException">A file could not be read, written, renamed or deleted, or the directory fsync failed; the
    /// log itself is unharmed (segments not yet removed stay, readable, and a later call or the next open removes them).</exception>
    /// <returns>The number of segments removed, and <see cref="OldestLsn"/> after the call.</returns>
    /// <exception cref="ObjectDisposedException">The log is disposed (or being disposed).</exception>
    public WalTruncation TruncateBefore(Lsn lsn)
    {
        CheckOpen();
        lock (_truncateGate)
        {
            // Dispose takes this lock before it releases the directory lock: no rename or deletion happens after that.
            if (Volatile.Read(ref _disposed) != 0)
            {
                ThrowDisposed();
            }

            try
            {
                int removed = RemoveSegmentsBefore(lsn);
                var truncation = new WalTruncation(removed, OldestLsn);
                if (WalEventSource.Log.IsEnabled(EventLevel.Informational, WalEventSource.Keywords.Truncation))
                {
                    WalEventSource.Log.TruncatedBefore(_directory, lsn.Value, removed, truncation.OldestLsn.Value);
                }

                return truncation;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new WalException($"TruncateBefore({lsn}) could not remove old segments from '{_directory}': {e.Message}", e);
            }
        }
    }

    /// <summary>
    /// A live reader of this log from <paramref name="from"/>, in LSN order: it returns durable records only, up to
    /// <see cref="DurableLsn"/> at each step, follows the log as it grows (<see cref="WalReader.WaitToReadAsync"/>), and
    /// is not disturbed by truncations of records it no longer needs (see <see cref="WalReader"/>).
    /// </summary>
    /// <param name="from">The first LSN to return; <see cref="Lsn.None"/>: the oldest kept. It may lie above
    /// <see cref="LastLsn"/>: the reader then waits for it.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="from"/> was truncated away (the message says the oldest LSN kept).</exception>
    /// <exception cref="WalException">The log is faulted.</exception>
    /// <exception cref="ObjectDisposedException">The log is disposed.</exception>
    public WalReader ReadFrom(Lsn from)
    {
        CheckOpen();
        LogHead head;
        long generation;
        int resets;
        lock (_truncateGate)
        {
            // Under the lock no TruncateAfter runs (the generation is even) and the head is the current one.
            head = _head;
            generation = _cutGeneration;
            resets = _lsns.Resets;
        }

        if (from.Value != 0 && from.Value < head.FirstLsn)
        {
            throw new ArgumentOutOfRangeException(nameof(from), from.Value, $"LSN {from.Value} was truncated away: the oldest LSN kept is {head.FirstLsn}.");
        }

        return WalReader.OpenLive(this, head, Math.Max(from.Value, head.FirstLsn), generation, resets);
    }

    /// <summary>
    /// Drops every record above <paramref name="lsn"/>, durably: on return no reader sees one of them again, the next
    /// append gets <paramref name="lsn"/> + 1, and a crash at any point leaves either the log before the call or the log
    /// after it (recovery completes a cut it finds recorded). For consensus logs: Raft replaces a follower's uncommitted
    /// entries that conflict with the leader's this way.
    /// </summary>
    /// <remarks>
    /// <para>Appends racing the call are ordered: an append that took its LSN before the cut and above
    /// <paramref name="lsn"/> is dropped with the others, and one made while the cut runs waits (a blocking append), waits
    /// without a thread (<see cref="AppendDurableAsync"/>) or finds the stripe full (<see cref="TryAppend"/> returns
    /// false) until the cut is done, and then lands after it. Waits for dropped records throw
    /// <see cref="WalTruncatedException"/>, also those parked when the call began. Records at or below
    /// <paramref name="lsn"/> not yet durable are made durable first. The call waits for in-place payload writers that
    /// are running to return.</para>
    /// <para>Cost: when every dropped record was still in memory, nothing is written. Otherwise <c>wal.head</c> is
    /// written twice, the batch holding <paramref name="lsn"/> + 1 is rewritten, the bytes after it zeroed (to the end of
    /// its segment when later segments follow), and later segments deleted (native-layout.md, section 5).</para>
    /// <para>Live readers (<see cref="ReadFrom"/>) that returned records above <paramref name="lsn"/> throw
    /// <see cref="WalTruncatedException"/>; the others read on, with the records appended after the cut.</para>
    /// </remarks>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="lsn"/> was never handed out, or lies below the oldest
    /// kept record less one (<see cref="TruncateBefore"/> removed it).</exception>
    /// <exception cref="WalException">The log is faulted, or the cut could not be written (the log is then faulted; reopening
    /// it completes the cut if it was recorded, else finds the old log).</exception>
    /// <exception cref="ObjectDisposedException">The log is disposed (or being disposed).</exception>
    public void TruncateAfter(Lsn lsn)
    {
        CheckOpen();
        lock (_truncateGate)
        {
            if (Volatile.Read(ref _disposed) != 0)
            {
                ThrowDisposed();
            }

            Lsn last = LastLsn;
            if (lsn > last)
            {
                throw new ArgumentOutOfRangeException(nameof(lsn), lsn.Value, $"LSN {lsn} was never handed out: the highest LSN handed out is {last}.");
            }

            if (lsn.Value + 1 < _head.FirstLsn)
            {
                throw new ArgumentOutOfRangeException(
                    nameof(lsn), lsn.Value, $"TruncateAfter({lsn}) would keep records TruncateBefore removed: the oldest LSN kept is {_head.FirstLsn}, so the LSN must be at least {_head.FirstLsn - 1}.");
            }

            if (lsn == last)
            {
                return; // nothing above it: appends racing this call land after it
            }

            (ulong droppedTo, bool rewroteDisk) = CutAfterUnderLock(lsn.Value);
            if (WalEventSource.Log.IsEnabled(EventLevel.Informational, WalEventSource.Keywords.Truncation))
            {
                WalEventSource.Log.TruncatedAfter(_directory, lsn.Value, lsn.Value + 1, droppedTo, rewroteDisk);
            }
        }
    }

    /// <summary>A snapshot of per-stripe and flush figures.</summary>
    /// <exception cref="ObjectDisposedException">The log is disposed (or being disposed).</exception>
    public WalMetrics GetMetrics()
    {
        if (Volatile.Read(ref _disposed) != 0)
        {
            ThrowDisposed();
        }

        var stripes = new StripeMetrics[_stripes.Length];
        for (int i = 0; i < stripes.Length; i++)
        {
            stripes[i] = _stripes[i].GetMetrics();
        }

        return new WalMetrics
        {
            Stripes = stripes,
            Batches = _flusher.Batches,
            BytesWritten = _flusher.BytesWritten,
            RecordsWritten = _flusher.RecordsWritten,
            LastWriteLatency = _flusher.LastWriteLatency,
            LastLsn = LastLsn,
            DurableLsn = DurableLsn,
            RecoveryDroppedFrom = new Lsn(_recovered.DroppedFrom),
            RecoveryDroppedTo = new Lsn(_recovered.DroppedTo),
        };
    }

    /// <summary>
    /// Stops taking appends (racing appenders get <see cref="ObjectDisposedException"/>), makes everything appended
    /// durable (unless the log is faulted), stops the flush thread, frees the native memory and releases the lock.
    /// Waiters for records that became durable return; others get <see cref="ObjectDisposedException"/>. Idempotent.
    /// </summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        CloseStripes();
        CompleteDispose();
    }

    /// <summary>
    /// As <see cref="Dispose"/>, without blocking a thread while the flush thread makes what was appended durable: stops
    /// taking appends at once (racing appenders get <see cref="ObjectDisposedException"/>), then waits asynchronously
    /// until everything appended is durable (or the log faults), and only then stops the flush thread, frees the native
    /// memory and releases the lock, which take no time a caller would notice. Idempotent, and safe to call concurrently
    /// with <see cref="Dispose"/>: one call disposes; any other returns at once, as a second <see cref="Dispose"/> does.
    /// </summary>
    /// <remarks>
    /// When the returned task completes, the log is disposed exactly as after <see cref="Dispose"/>: waiters for records
    /// that became durable have returned, the others got <see cref="ObjectDisposedException"/>, and the directory lock is
    /// released (the log can be opened again). It completes synchronously when nothing was waiting to be written. Like
    /// <see cref="Dispose"/>, it waits for in-place payload writers that are still running to return.
    /// </remarks>
    public ValueTask DisposeAsync()
    {
        // Full fence; the one disposer, as in Dispose (every member reads the flag with Volatile.Read).
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return default;
        }

        CloseStripes();
        return DrainThenCompleteDisposeAsync();
    }

    /// <summary>The first step of disposal: stops taking appends, so that what "everything appended" means stops growing.</summary>
    private void CloseStripes()
    {
        foreach (Stripe stripe in _stripes)
        {
            stripe.Close();
        }
    }

    /// <summary>
    /// The rest of disposal, after <see cref="CloseStripes"/>, in <see cref="Dispose"/>'s order: flusher stopped (it writes
    /// what is left first), watermark disposed, stripes disposed, then the truncation gate and the lock.
    /// </summary>
    private void CompleteDispose()
    {
        // The rest under the truncation gate, after a TruncateBefore or TruncateAfter that is running: TruncateAfter pauses
        // and resumes the stripes (their native memory, freed below) and uses the watermark (found by review: a cut racing
        // Dispose wrote to freed memory). And before the directory lock goes: no rename, deletion or write of wal.head may
        // happen in a directory another writer may already have opened.
        // The flush thread stops first, outside the gate: it may wait for an in-place payload writer, which may wait for a
        // thread that takes the gate (found by review: a live reader's resync did, and Dispose waited out the writer).
        // A TruncateAfter holding the gate meanwhile still finds the thread to hand its cut to, or finds it stopped.
        WalMeter.Unregister(this); // before the stripes are freed: no metrics callback reads them after this
        _flusher.Stop();
        lock (_truncateGate)
        {
            _watermark.Dispose();
            foreach (Stripe stripe in _stripes)
            {
                stripe.Dispose();
            }

            _flusher.Dispose();
            ForgetRecordedCutIfPassedUnderLock();
            _segments.Dispose();
            _lock.Dispose();
        }
    }

    /// <summary>
    /// The asynchronous part of <see cref="DisposeAsync"/>, the stripes closed: waits without a thread until everything
    /// appended is durable, so that <see cref="CompleteDispose"/> then finds the flush thread with nothing left to write.
    /// Runs synchronously to the end when there is nothing to wait for. Otherwise it continues on a thread-pool thread,
    /// never on the flush thread (the watermark's completions never run there), which matters: it joins that thread.
    /// </summary>
    private async ValueTask DrainThenCompleteDisposeAsync()
    {
        try
        {
            int pollMilliseconds = 1;
            while (_watermark.Fault is null)
            {
                // Closed stripes take no new reservation, and a ring is empty only once every record reserved in it was
                // published and taken by the flush thread. So when all are empty, LastLsn (read after) is final.
                bool quiet = AllStripesEmpty();
                (Lsn last, int epoch) = FlushTarget();
                if (DurableLsn < last)
                {
                    try
                    {
                        // With the reset count: a TruncateAfter that drops `last` before this wait registers fails it
                        // (found by review: the wait registered after the cut's rewind and waited for good for an LSN no
                        // closed stripe would hand out again).
                        await _watermark.WaitWithoutResultAsync(last, CancellationToken.None, epoch).ConfigureAwait(false);
                    }
                    catch (WalTruncatedException)
                    {
                        // Dropped by a cut: what is left to make durable is below it; look again.
                    }

                    continue; // more may have been published meanwhile: look again
                }

                if (quiet)
                {
                    break;
                }

                // An appender holds a reservation: it publishes within a few of its own steps, or when its in-place
                // writer returns, which may take long. Nothing signals that; poll, backing off.
                await Task.Delay(pollMilliseconds).ConfigureAwait(false);
                pollMilliseconds = Math.Min(pollMilliseconds * 2, 32);
            }
        }
        catch (WalException)
        {
            // Faulted meanwhile: the flush thread has stopped; what is not durable stays so, as with Dispose.
        }
        finally
        {
            CompleteDispose();
        }
    }

    private bool AllStripesEmpty()
    {
        foreach (Stripe stripe in _stripes)
        {
            if (!stripe.IsEmpty)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Waits until the segment after the current one is prepared (tests: keeps that work out of a measurement).</summary>
    internal void TestHookWaitForPreparedSegment() => _segments.TestHookWaitForPreparedSegment();

    internal long TestHookBatches => _flusher.Batches;

    /// <summary>Tests: the flush thread's writer thread has no batch posted and not done.</summary>
    internal bool TestHookWriterIdle => _flusher.TestHookWriterIdle;

    /// <summary>A TruncateAfter has handed its cut to the flush thread, which has not gone on after it yet (tests: order a cut before a write returns).</summary>
    internal bool TestHookCutRequested => _flusher.TestHookCutRequested;

    /// <summary>The log's tags, and what recovery at open found, for the meter.</summary>
    internal WalTelemetry Telemetry => _telemetry;

    /// <summary>Metrics callbacks (the log registered, so not disposed): records and payload bytes appended since open.</summary>
    internal (long Records, long Bytes) ObservedAppends()
    {
        (long records, long bytes) = (0, 0);
        foreach (Stripe stripe in _stripes)
        {
            StripeMetrics metrics = stripe.GetMetrics();
            records += metrics.TotalAppends;
            bytes += metrics.TotalBytes;
        }

        return (records, bytes);
    }

    /// <summary>Metrics callbacks: batches written since open.</summary>
    internal long ObservedBatches => _flusher.Batches;

    /// <summary>Metrics callbacks: bytes of batches written since open.</summary>
    internal long ObservedBytesWritten => _flusher.BytesWritten;

    /// <summary>Metrics callbacks: appends that found their stripe full at their first try.</summary>
    internal long ObservedStripeFullWaits
    {
        get
        {
            long waits = 0;
            foreach (Stripe stripe in _stripes)
            {
                waits += stripe.FullWaits;
            }

            return waits;
        }
    }

    /// <summary>
    /// Metrics callbacks: records handed out and not yet durable, and how long the oldest of them has waited since the
    /// flush thread first saw it (<see cref="DurableLagClock"/>); 0 seconds when none is pending or it was not seen yet.
    /// </summary>
    internal (long Records, double Seconds) ObservedDurableLag()
    {
        long oldest = _flusher.OldestPendingTicks;
        ulong durable = DurableLsn.Value; // before LastLsn: a durable LSN never exceeds the last LSN read after it (but a cut)
        ulong last = LastLsn.Value;
        if (last <= durable)
        {
            return (0, 0);
        }

        return ((long)(last - durable), oldest == 0 ? 0 : Stopwatch.GetElapsedTime(oldest).TotalSeconds);
    }

    /// <summary>The durable waiters registered now (tests: a wait that gave up left none behind).</summary>
    internal int TestHookRegisteredWaiters => _watermark.TestHookRegisteredWaiters;

    /// <summary>The slow path of <see cref="AppendDurableAsync"/>: the stripe was full, the append waits for space.</summary>
    private async ValueTask<Lsn> AppendedThenDurableAsync(ValueTask<(RingStatus Status, Lsn Lsn, int Epoch)> appended, CancellationToken cancellationToken)
    {
        (RingStatus status, Lsn lsn, int epoch) = await appended.ConfigureAwait(false);
        if (status != RingStatus.Success)
        {
            ThrowNotAppended(); // closed while waiting: the log's fault, or disposed
        }

        _doorbell.OnPublished();
        return await _watermark.WaitAsync(lsn, cancellationToken, epoch).ConfigureAwait(false);
    }

    /// <summary>
    /// The cut an earlier recovery recorded in wal.head is reported at every open while the log still ends before its
    /// first LSN. Once that LSN is durable again, the record is history: forget it, or a later cut at the same LSN would
    /// be reported as reaching as far as the old one.
    /// </summary>
    private async Task ForgetRecordedCutOnceDurableAsync(Lsn cutFrom)
    {
        try
        {
            await _watermark.WaitWithoutResultAsync(cutFrom, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e) when (e is WalException or ObjectDisposedException)
        {
            return; // faulted or disposed first: Dispose forgets it if it was passed
        }

        lock (_truncateGate)
        {
            if (Volatile.Read(ref _disposed) == 0)
            {
                ForgetRecordedCutIfPassedUnderLock();
            }
        }
    }

    /// <summary>
    /// What a Flush waits for: the last LSN handed out, with the resets (TruncateAfter cuts) made when it was read, so that
    /// a cut from then on that drops it makes the wait throw. Read again if a reset came between the two reads (the LSN
    /// would then be another record's than the count says).
    /// </summary>
    private (Lsn Last, int Epoch) FlushTarget()
    {
        while (true)
        {
            int epoch = _lsns.Resets;
            Lsn last = LastLsn;
            if (_lsns.Resets == epoch)
            {
                return (last, epoch);
            }
        }
    }

    /// <summary>How often a TruncateAfter waiting for the flush thread's drain checks that the thread still runs.</summary>
    private const int ParkForCutMilliseconds = 100;

    /// <summary>
    /// Under the truncation lock: pauses the stripes, has the flush thread write what is kept and drop the rest from the
    /// rings, cuts the disk if dropped records were written, and goes on from <paramref name="after"/> + 1.
    /// </summary>
    /// <returns>The last LSN dropped (the last handed out before the cut), and whether dropped records were written (and
    /// so the disk was cut).</returns>
    private (ulong DroppedTo, bool RewroteDisk) CutAfterUnderLock(ulong after)
    {
        // Full fence (odd: a cut is running): live readers that see it resync before returning anything they read.
        Interlocked.Increment(ref _cutGeneration);
        foreach (Stripe stripe in _stripes)
        {
            stripe.Pause();
        }

        // Not disposed: the flush thread may still be returning from its wait on it when this call returns (the events
        // hold no OS handle unless one is asked for).
        var cut = new CutRequest(after);
        bool held = false;
        try
        {
            _flusher.BeginCut(cut);
            while (!cut.Drained.Wait(ParkForCutMilliseconds))
            {
                if (!_flusher.IsRunning && !cut.Drained.IsSet)
                {
                    // The flush thread stopped before it saw the request (Dispose racing this call, or a fault): no drain.
                    if (_watermark.Fault is { } stopped)
                    {
                        ThrowFaulted(stopped);
                    }

                    ThrowDisposed();
                }
            }

            if (_watermark.Fault is { } fault)
            {
                ThrowFaulted(fault); // the flush thread faulted while draining: it holds no more
            }

            held = true;
            bool rewroteDisk = DurableLsn.Value > after;
            if (rewroteDisk)
            {
                CutDiskAfter(after);
            }

            ulong droppedTo = _lsns.Last.Value; // final: the stripes are paused and drained
            _lsns.Reset(after);
            _watermark.Rewind(new Lsn(after));
            _flusher.EndCut(cut, after + 1);
            return (droppedTo, rewroteDisk);
        }
        catch (Exception e) when (e is not ObjectDisposedException)
        {
            // The disk is in an unknown state between the old log and the new one: fault the log; reopening it finds one
            // of the two (the cut is completed by recovery once wal.head records it). Whatever failed, the flush thread
            // must not stay held.
            var error = new WalException($"TruncateAfter({after}) could not cut the log in '{_directory}': {e.Message}", e);
            _telemetry.Faulted(error); // unless the flush thread's own fault came first (then this is not a second one)
            _watermark.SetFaulted(error);
            foreach (Stripe stripe in _stripes)
            {
                stripe.Close();
            }

            if (held)
            {
                cut.Failed = true;
                _flusher.EndCut(cut, after + 1);
            }

            if (e is WalException)
            {
                throw;
            }

            throw error;
        }
        finally
        {
            // Full fence (even again): readers that waited for the cut read on.
            Interlocked.Increment(ref _cutGeneration);
            foreach (Stripe stripe in _stripes)
            {
                stripe.Resume();
            }
        }
    }

    /// <summary>
    /// Under the truncation lock, with the flush thread held: records above <paramref name="after"/> were written; the
    /// log is made to end after <paramref name="after"/> on disk (<see cref="TailRewind"/>), and the segment writer goes
    /// on from there.
    /// </summary>
    private void CutDiskAfter(ulong after)
    {
        // The batch holding the first dropped record: found from the newest segment that starts at or below it.
        (ulong Segment, long Offset, ulong FirstLsn) batch;
        using (var cursor = new LogCursor(_storage, _directory, _head, tolerateRepairableMarkers: true, retryBeforeRefusing: null) { SkipBelowLsn = after + 1 })
        {
            cursor.StartAtSegmentOf(after + 1);
            while (true)
            {
                if (!cursor.MoveNext())
                {
                    throw new WalCorruptionException(
                        cursor.Damage?.Path ?? _directory, cursor.Damage?.Offset ?? 0, $"TruncateAfter({after}) cannot find LSN {after + 1} in the log: {cursor.Damage?.Reason ?? "the log ends before it"}");
                }

                if (cursor.CurrentLsn > after)
                {
                    batch = cursor.CurrentBatch;
                    break;
                }
            }
        }

        // How far the dropped records' bytes reach in that segment: to its end marker when it is the one being written,
        // else to its end (later segments followed it).
        long zeroTo = batch.Segment == _segments.CurrentNumber ? _segments.Offset + FlushCoordinator.MarkerBytes : long.MaxValue;
        LogHead recorded = _head with
        {
            Sequence = _head.Sequence + 1,
            CutFrom = _head.CutFrom > after ? 0 : _head.CutFrom,
            CutTo = _head.CutFrom > after ? 0 : _head.CutTo,
            RewindCount = _head.RewindCount + 1,
            RewindLsn = after,
            RewindSegment = batch.Segment,
            RewindOffset = batch.Offset,
            RewindBatchLsn = batch.FirstLsn,
            RewindZeroTo = zeroTo,
        };

        // The commit point: once this is durable, the cut is made, here or by the next recovery.
        WriteHeadUnderLock(recorded);
        _segments.Detach();
        (long end, _, _) = TailRewind.Complete(_storage, _directory, recorded, mode: null);
        LogHead completed = TailRewind.Completed(recorded);
        WriteHeadUnderLock(completed);
        Volatile.Write(ref _publishedHead, new StrongBox<LogHead>(completed)); // release: readers that resync after the cut read it whole
        SegmentHeader header = SegmentHeader.ReadCurrent(_storage, SegmentNames.PathOf(_directory, batch.Segment))
            ?? throw new WalException($"TruncateAfter({after}) cannot read the header of segment {batch.Segment} again.");
        _segments.ContinueIn(batch.Segment, end, header);
    }

    /// <summary>The head as a live reader starts a cursor from: the oldest segment kept and the log's id. Lock-free.</summary>
    // Acquire: pairs with the release that published it.
    internal LogHead PublishedHead => Volatile.Read(ref _publishedHead).Value;

    /// <summary>The log's LSN sequence, which remembers what each TruncateAfter kept (live readers ask it, lock-free).</summary>
    internal LsnSequence Lsns => _lsns;

    /// <summary>
    /// Under the truncation lock: writes <paramref name="next"/> to wal.head, durably, and makes it the log's head. Its
    /// sequence number is spent even if the write fails: the failed write may have reached the disk, and a later head
    /// must outrank it.
    /// </summary>
    private void WriteHeadUnderLock(LogHead next)
    {
        _head = _head with { Sequence = next.Sequence };
        LogHeadFile.Write(_storage, _directory, next);
        _head = next;
    }

    /// <summary>Under the truncation lock: forgets the recorded cut once its first LSN is durable again.</summary>
    private void ForgetRecordedCutIfPassedUnderLock()
    {
        if (_head.CutFrom == 0 || DurableLsn.Value < _head.CutFrom || _watermark.Fault is not null)
        {
            return;
        }

        try
        {
            WriteHeadUnderLock(_head with { Sequence = _head.Sequence + 1, CutFrom = 0, CutTo = 0 });
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The record stays: the next open reports the old cut's range again only if the log ends right before it.
        }
    }

    /// <summary>Under the truncation lock: moves the head forward, durably, then removes the segments below it.</summary>
    /// <returns>The number of segments removed.</returns>
    private int RemoveSegmentsBefore(Lsn lsn)
    {
        // Only below what is durable: a segment's header is trusted as its successor's lower bound only once the write
        // that carried it returned (a header still in flight may be in the page cache, not on disk).
        Lsn durable = DurableLsn;
        if (lsn > durable)
        {
            lsn = durable;
        }

        // Segment i holds LSNs [first(i), first(i + 1)): all below lsn when the next segment starts at or below lsn. The
        // segments from the head on are consecutive; stop at the first that is not readable or is being written.
        ulong writing = _segments.CurrentNumber;
        (ulong Number, ulong FirstLsn) keep = (_head.Segment, _head.FirstLsn);
        for (ulong number = _head.Segment + 1; number <= writing; number++)
        {
            string path = SegmentNames.PathOf(_directory, number);
            if (!_storage.ListFiles(_directory, Path.GetFileName(path)).Any()
                || SegmentHeader.ReadCurrent(_storage, path) is not { } header || header.FirstLsn > lsn.Value)
            {
                break;
            }

            keep = (number, header.FirstLsn);
        }

        if (keep.Number == _head.Segment)
        {
            return 0;
        }

        // The new head is durable before any segment below it is touched.
        LogHead next = _head with { Segment = keep.Number, FirstLsn = keep.FirstLsn, Sequence = _head.Sequence + 1 };
        WriteHeadUnderLock(next);
        Volatile.Write(ref _publishedHead, new StrongBox<LogHead>(next)); // release: a reader's new cursor starts from it
        Volatile.Write(ref _oldest, (long)next.FirstLsn); // release: OldestLsn moves up once the new head is durable
        var recycled = new List<string>();
        int removed = 0;
        foreach (ulong number in SegmentNames.List(_storage, _directory))
        {
            if (number >= keep.Number)
            {
                break;
            }

            if (_segments.TryRecycle(number, recycled.Count) is { } path)
            {
                recycled.Add(path);
            }
            else
            {
                _storage.DeleteSegment(_directory, SegmentNames.PathOf(_directory, number));
            }

            removed++;
        }

        _storage.SyncDirectory(_directory);
        _segments.OfferRecycled(recycled);
        return removed;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private Stripe CurrentStripe()
    {
        int slot = t_stripeSlot;
        if (slot == 0)
        {
            slot = NewStripeSlot();
        }

        return _stripes[(uint)slot % (uint)_stripes.Length];
    }

    private static int NewStripeSlot()
    {
        // Interlocked only to hand out distinct slots round-robin; no ordering is needed.
        int slot = Interlocked.Increment(ref s_nextStripeSlot) & int.MaxValue;
        t_stripeSlot = slot == 0 ? 1 : slot;
        return t_stripeSlot;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void CheckAppend(int length)
    {
        CheckOpen();
        if ((uint)length > (uint)_maxEntryBytes)
        {
            ThrowTooLarge(length);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void CheckOpen()
    {
        if (Volatile.Read(ref _disposed) != 0)
        {
            ThrowDisposed();
        }

        if (_watermark.Fault is { } fault)
        {
            ThrowFaulted(fault);
        }
    }

    private void CheckWait(Lsn lsn)
    {
        CheckOpen();
        Lsn last = LastLsn;
        if (lsn > last)
        {
            throw new ArgumentOutOfRangeException(nameof(lsn), lsn.Value, $"LSN {lsn} was never handed out: the highest LSN handed out is {last}.");
        }
    }

    /// <summary>A wait's timeout in milliseconds, validated as .NET's waits do: -1 ms (infinite) or 0 to <see cref="int.MaxValue"/>.</summary>
    private static int TimeoutMilliseconds(TimeSpan timeout)
    {
        long milliseconds = (long)timeout.TotalMilliseconds;
        if (milliseconds < Timeout.Infinite || milliseconds > int.MaxValue)
        {
            throw new ArgumentOutOfRangeException(
                nameof(timeout), timeout, $"A timeout must be Timeout.InfiniteTimeSpan or from 0 to {int.MaxValue} milliseconds; got {timeout}.");
        }

        return (int)milliseconds;
    }

    private void ThrowNotAppended()
    {
        if (_watermark.Fault is { } fault)
        {
            ThrowFaulted(fault);
        }

        ThrowDisposed();
    }

    private void ThrowTooLarge(int length) => throw new ArgumentException(
        length < 0
            ? $"A record length must be 0 or more; got {length}."
            : $"A record of {length} bytes is larger than WalOptions.MaxEntryBytes ({_maxEntryBytes} bytes).",
        nameof(length));

    private static void ThrowDisposed() => throw new ObjectDisposedException(nameof(WriteAheadLog), "The log is disposed; it takes no more calls.");

    private static void ThrowFaulted(Exception fault) =>
        throw new WalException($"The log is faulted and acknowledges nothing more: {fault.Message}. Reopen it to recover.", fault);
}
