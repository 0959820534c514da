using System.Runtime.CompilerServices;
using Aletheia.Wal.Reading;
using Aletheia.Wal.Recovery;
using Aletheia.Wal.Storage;

namespace Aletheia.Wal;

/// <summary>
/// Reads a log's records in LSN order, with exactly the bytes appended, streaming (one buffer, never the whole log).
/// Not thread-safe: one reader serves one consumer. Three kinds, by how it was opened:
/// <list type="bullet">
/// <item><b>Live</b> (<see cref="WriteAheadLog.ReadFrom"/>): follows the open log in this process. <see cref="TryRead"/>
/// returns records up to <see cref="WriteAheadLog.DurableLsn"/>, never past it, and never reads the bytes of a write in
/// flight; <see cref="WaitToReadAsync"/> and <see cref="WaitToRead"/> wait for more. It follows new segments, and a
/// truncation that removes segments it no longer needs does not disturb it.</item>
/// <item><b>Snapshot</b> (<see cref="Open(string, Lsn, WalRecoveryMode)"/>): reads a log directory, open by a writer (in this process or another) or
/// not, without taking its lock: what the files hold, up to the end of the log or the first write it cannot verify.</item>
/// <item><b>Follow</b> (<see cref="Follow"/>): as a snapshot reader, but at the end it waits for more, polling the
/// files: it tails a log that another process writes.</item>
/// </list>
/// </summary>
/// <remarks>
/// <para><b>A log that a writer has open, read through its files</b> (snapshot and follow readers). The files show
/// writes the writer has not finished: a write in flight and a write a crash interrupted look the same. So a reader of
/// the files keeps one rule: it stops at the first write it cannot verify, without calling it damage, in every mode, and
/// says so (<see cref="StoppedAtUnverifiedWrite"/>). It reports damage only when the files prove it: an intact later
/// write after the one it cannot verify (read afresh once first: more may have been written meanwhile), a file cut
/// short, a segment missing where the log goes on. Records a writer is writing can be read before that write has
/// returned, so before they are durable: a crash may still take them, and the writer then hands out their LSNs again.
/// Only a live reader returns durable records only.</para>
/// <para><b>Truncation.</b> A reader that needs records that <see cref="WriteAheadLog.TruncateBefore"/> removed, or that
/// returned records that <see cref="WriteAheadLog.TruncateAfter"/> dropped, throws <see cref="WalTruncatedException"/>;
/// one that had not yet returned records above the cut goes on with the records appended after it. A live reader checks
/// before it returns any record, so after <see cref="WriteAheadLog.TruncateAfter"/> returns it returns no dropped record.
/// A snapshot or follow reader (maybe in another process) learns of a cut when it reads bytes it had not read before: it
/// then looks at <c>wal.head</c>, which records the cut before any byte of it is written, so it never returns records of
/// the log after a cut as if they followed the records it returned from before it; but records it had read before the
/// cut and returns after it may be records the cut dropped (it throws once it sees the cut). It also throws when several
/// cuts were made since it last looked and the last one kept what it returned (<c>wal.head</c> keeps the last cut's LSN
/// only, so it cannot tell).</para>
/// </remarks>
public sealed class WalReader : IDisposable, IAsyncDisposable
{
    private static readonly TimeSpan DefaultPollInterval = TimeSpan.FromMilliseconds(20);

    /// <summary>A follow reader stuck at the same unverifiable write for this long has it judged as recovery would.</summary>
    private static readonly TimeSpan StallBeforeJudging = TimeSpan.FromSeconds(1);

    private readonly WalStorage _storage;
    private readonly string _directory;
    private readonly WalRecoveryMode _mode;
    private readonly WriteAheadLog? _log; // live readers
    private readonly bool _follow;
    private readonly TimeSpan _pollInterval;
    private LogCursor _cursor;
    private ulong _next;        // the LSN of the next record to return
    private long _generation;   // live: the log's cut generation the cursor's bytes belong to; files: wal.head's RewindCount
    private int _resetsSeen;    // live: the TruncateAfter cuts made when the cursor was made (LsnSequence.Resets)
    private bool _resyncPending; // live: a cut ran while the reader read; it resyncs before it reads on
    private ulong _lastReturned; // the LSN of the last record returned (0: none)
    private long _checkedReads = -1; // a file reader: the cursor's file reads when it last looked at wal.head
    private bool _pending;      // the cursor is on a record not returned yet (a follow reader's wait found it)
    private bool _ended;
    private bool _disposed;
    private (string Path, long Offset) _stalledAt;
    private long _stalledSince;

    private WalReader(WalStorage storage, string directory, WalRecoveryMode mode, LogCursor cursor, ulong next, WriteAheadLog? log, bool follow, TimeSpan pollInterval, long generation)
    {
        _storage = storage;
        _directory = directory;
        _mode = mode;
        _cursor = cursor;
        _next = next;
        _log = log;
        _follow = follow;
        _pollInterval = pollInterval;
        _generation = generation;
    }

    /// <summary>
    /// True when the reader stopped (for now, if it follows a log) at a write it cannot verify: a write still in flight,
    /// or one a crash interrupted (a torn tail, which the writer's recovery cuts). False at a proven end of the log.
    /// </summary>
    public bool StoppedAtUnverifiedWrite { get; private set; }

    /// <summary>
    /// Where and why a snapshot or follow reader stopped when <see cref="TryRead"/> last returned false: at the end of the
    /// log (its open end marker), at a write it cannot verify (<see cref="StoppedAtUnverifiedWrite"/>), or at damage its
    /// mode ends the log at (<see cref="WalRecoveryMode.PointInTime"/>). Null while it returns records, for a live reader,
    /// and at the bound of a <see cref="WriteAheadLog.TruncateAfter"/> that <c>wal.head</c> records as being made.
    /// </summary>
    public WalReadStop? StoppedAt { get; private set; }

    /// <summary>
    /// Opens a snapshot reader on a log directory, open by a writer or not, without taking its lock (see the remarks on
    /// <see cref="WalReader"/> for what it reads of a log a writer has open).
    /// </summary>
    /// <param name="directory">The log directory.</param>
    /// <param name="from">The first LSN to return (<see cref="Lsn.None"/>: from the oldest record kept).</param>
    /// <param name="mode">What damage does to the reader: see <see cref="TryRead"/>.</param>
    /// <exception cref="DirectoryNotFoundException">The directory does not exist.</exception>
    /// <exception cref="WalException">The directory holds no log, or a log of another on-disk format version.</exception>
    /// <exception cref="WalCorruptionException">The log's <c>wal.head</c> is missing or unreadable (see native-layout.md).</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="from"/> lies below the oldest LSN kept (truncated away).</exception>
    public static WalReader Open(string directory, Lsn from = default, WalRecoveryMode mode = WalRecoveryMode.TruncateTornTail) =>
        OpenDirectory(WalStorage.Files, directory, from, mode, follow: false, DefaultPollInterval);

    /// <summary>
    /// Opens a follow reader on a log directory, to tail a log that another process writes: as <see cref="Open(string, Lsn, WalRecoveryMode)"/>, but at
    /// the end of what the files hold it waits for more (<see cref="WaitToReadAsync"/>, <see cref="WaitToRead"/>),
    /// polling the files every <paramref name="pollInterval"/>. A write it cannot verify stops it for now (it may be in
    /// flight); one that stays so for a second is judged as recovery would, and damage that
    /// <paramref name="mode"/> refuses is thrown.
    /// </summary>
    /// <param name="directory">The log directory.</param>
    /// <param name="from">The first LSN to return (<see cref="Lsn.None"/>: from the oldest record kept).</param>
    /// <param name="mode">What damage does to the reader.</param>
    /// <param name="pollInterval">How often a wait looks at the files again; default 20 ms; from 1 ms to 1 minute.</param>
    /// <exception cref="DirectoryNotFoundException">The directory does not exist.</exception>
    /// <exception cref="WalException">The directory holds no log, or a log of another on-disk format version.</exception>
    /// <exception cref="WalCorruptionException">The log's <c>wal.head</c> is missing or unreadable.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="from"/> was truncated away, or the poll interval is out of range.</exception>
    public static WalReader Follow(string directory, Lsn from = default, WalRecoveryMode mode = WalRecoveryMode.TruncateTornTail, TimeSpan? pollInterval = null)
    {
        TimeSpan interval = pollInterval ?? DefaultPollInterval;
        if (interval < TimeSpan.FromMilliseconds(1) || interval > TimeSpan.FromMinutes(1))
        {
            throw new ArgumentOutOfRangeException(nameof(pollInterval), interval, $"A poll interval must be from 1 ms to 1 minute; it is {interval}.");
        }

        return OpenDirectory(WalStorage.Files, directory, from, mode, follow: true, interval);
    }

    /// <summary>A snapshot reader over <paramref name="storage"/> (tests: the simulated disk).</summary>
    internal static WalReader Open(WalStorage storage, string directory, Lsn from, WalRecoveryMode mode) =>
        OpenDirectory(storage, directory, from, mode, follow: false, DefaultPollInterval);

    internal static WalReader OpenDirectory(WalStorage storage, string directory, Lsn from, WalRecoveryMode mode, bool follow, TimeSpan pollInterval)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        if (!Directory.Exists(directory))
        {
            throw new DirectoryNotFoundException($"The log directory '{directory}' does not exist.");
        }

        LogHead head = ResolveHead(storage, directory, mode);
        if (from.Value != 0 && from.Value < head.FirstLsn)
        {
            throw new ArgumentOutOfRangeException(nameof(from), from.Value, $"LSN {from.Value} was truncated away: the oldest LSN kept is {head.FirstLsn}.");
        }

        ulong first = Math.Max(from.Value, head.FirstLsn);
        LogCursor cursor = NewCursor(storage, directory, head, mode, first, classify: !follow);
        if (head.RewindSegment != 0)
        {
            // A TruncateAfter is being made (or a crash interrupted it): records above its LSN are dropped.
            cursor.StopAfterLsn = head.RewindLsn;
        }

        return new WalReader(storage, directory, mode, cursor, first, log: null, follow, pollInterval, head.RewindCount);
    }

    /// <summary>A live reader of <paramref name="log"/> from <paramref name="from"/> (at or above the oldest LSN).</summary>
    internal static WalReader OpenLive(WriteAheadLog log, LogHead head, ulong from, long generation, int resets)
    {
        LogCursor cursor = NewCursor(log.Storage, log.Directory, head, WalRecoveryMode.TruncateTornTail, from, classify: false);
        cursor.StopAfterLsn = log.DurableLsn.Value;
        return new WalReader(log.Storage, log.Directory, WalRecoveryMode.TruncateTornTail, cursor, from, log, follow: false, DefaultPollInterval, generation)
        {
            _resetsSeen = resets,
        };
    }

    /// <summary>
    /// Reads the next record. Returns false when there is none: at the end of the log for a snapshot reader (and then for
    /// good); for a live or follow reader, none for now (wait with <see cref="WaitToReadAsync"/> or <see cref="WaitToRead"/>).
    /// The record's payload is valid until the next call.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The reader is disposed.</exception>
    /// <exception cref="WalTruncatedException">
    /// The reader needs records that <see cref="WriteAheadLog.TruncateBefore"/> removed, or returned records that
    /// <see cref="WriteAheadLog.TruncateAfter"/> dropped.
    /// </exception>
    /// <exception cref="WalException">A live reader's log is faulted (as every call of a faulted log; reopen it to recover).</exception>
    /// <exception cref="WalCorruptionException">
    /// The log is damaged (with the file's path and the offset of the first bad byte, within the damaged write): a live
    /// reader, any damage of a durable record; a snapshot or follow reader, damage that the files prove (see the remarks
    /// on <see cref="WalReader"/>) and its mode refuses: in <see cref="WalRecoveryMode.Strict"/> any, in
    /// <see cref="WalRecoveryMode.TruncateTornTail"/> all but a damaged end marker that the next segment makes good, while
    /// <see cref="WalRecoveryMode.PointInTime"/> ends the log at the first damaged write. Never another exception type for
    /// damage, never a record whose checksum does not match.
    /// </exception>
    public bool TryRead(out WalRecord record)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_pending)
        {
            _pending = false;
            record = Current();
            return true;
        }

        if (Advance())
        {
            record = Current();
            return true;
        }

        record = default;
        return false;
    }

    /// <summary>
    /// Completes with true once <see cref="TryRead"/> has a record, with false once none will ever come: a live reader's
    /// log was disposed (once <see cref="WriteAheadLog.Dispose"/> has made what was appended durable, and every durable
    /// record was read), or a snapshot reader reached the end of the log. The
    /// <see cref="System.Threading.Channels.ChannelReader{T}"/> idiom: <c>while (await reader.WaitToReadAsync()) while
    /// (reader.TryRead(out var record)) ...</c>. A live reader's wait allocates nothing.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The reader is disposed.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled first.</exception>
    /// <exception cref="WalException">The log is faulted (live reader).</exception>
    /// <exception cref="WalTruncatedException">As for <see cref="TryRead"/>.</exception>
    /// <exception cref="WalCorruptionException">As for <see cref="TryRead"/>.</exception>
    public ValueTask<bool> WaitToReadAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_log is not null)
        {
            switch (CutState())
            {
                case LiveCut.Done:
                    return new ValueTask<bool>(true); // TryRead resyncs (or throws) first
                case LiveCut.Running:
                    return WaitLiveAsync(cancellationToken);
            }

            ulong target = NextTarget();
            if (_log.DurableLsn.Value >= target)
            {
                return new ValueTask<bool>(true);
            }

            // Also when the log is being disposed: Dispose makes what was appended durable first, and the wait ends (false,
            // when nothing more came) only once it disposed the watermark, after the flush thread stopped.
            return WaitLiveAsync(cancellationToken);
        }

        return HasRecordNow(out bool more) ? new ValueTask<bool>(true) : !more ? new ValueTask<bool>(false) : PollAsync(cancellationToken);
    }

    /// <summary>As <see cref="WaitToReadAsync"/>, blocking the calling thread for at most <paramref name="timeout"/>.</summary>
    /// <returns>True once <see cref="TryRead"/> has a record; false when the timeout passed first, or none will ever come.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="timeout"/> is negative (other than <see cref="Timeout.InfiniteTimeSpan"/>) or longer than <see cref="int.MaxValue"/> ms.</exception>
    /// <exception cref="ObjectDisposedException">The reader is disposed.</exception>
    /// <exception cref="WalException">The log is faulted (live reader).</exception>
    /// <exception cref="WalTruncatedException">As for <see cref="TryRead"/>.</exception>
    /// <exception cref="WalCorruptionException">As for <see cref="TryRead"/>.</exception>
    public bool WaitToRead(TimeSpan timeout)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        long ms = (long)timeout.TotalMilliseconds;
        if (ms < -1 || ms > int.MaxValue)
        {
            throw new ArgumentOutOfRangeException(nameof(timeout), timeout, "A timeout must be from 0 to int.MaxValue milliseconds, or Timeout.InfiniteTimeSpan.");
        }

        long deadline = ms == -1 ? long.MaxValue : Environment.TickCount64 + ms;
        while (true)
        {
            if (_log is not null)
            {
                LiveCut cut = CutState();
                if (cut == LiveCut.Running)
                {
                    // A TruncateAfter is being made: the reader reads nothing until it is done (short, unless it waits for
                    // an in-place payload writer).
                    if (deadline != long.MaxValue && Environment.TickCount64 >= deadline)
                    {
                        return false;
                    }

                    Thread.Sleep(1);
                    continue;
                }

                ulong target = NextTarget();
                if (cut == LiveCut.Done || _log.DurableLsn.Value >= target)
                {
                    return true;
                }

                long remaining = deadline == long.MaxValue ? Timeout.Infinite : Math.Max(0, deadline - Environment.TickCount64);
                try
                {
                    if (!_log.Watermark.Wait(new Lsn(target), (int)remaining))
                    {
                        return false;
                    }
                }
                catch (ObjectDisposedException)
                {
                    return _log.DurableLsn.Value >= target;
                }
                catch (WalTruncatedException)
                {
                    // The wait's LSN was dropped by a TruncateAfter: the next check resyncs or throws for this reader.
                }

                continue;
            }

            if (HasRecordNow(out bool more))
            {
                return true;
            }

            long left = deadline - Environment.TickCount64;
            if (!more || left <= 0)
            {
                return false;
            }

            Thread.Sleep((int)Math.Min(left, (long)_pollInterval.TotalMilliseconds));
        }
    }

    /// <summary>
    /// Every record from the reader's position on, as owned copies (each payload copied into a new array), for callers
    /// that keep records across an await. Ends as <see cref="WaitToReadAsync"/> does: a live reader when the log is
    /// disposed, a snapshot reader at the end of the log; a follow reader only by cancellation.
    /// </summary>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    /// <exception cref="WalException">As for <see cref="TryRead"/> and <see cref="WaitToReadAsync"/>.</exception>
    public async IAsyncEnumerable<WalEntry> ReadAllAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        do
        {
            while (TryReadEntry(out WalEntry entry))
            {
                yield return entry;
            }
        }
        while (await WaitToReadAsync(cancellationToken).ConfigureAwait(false));
    }

    /// <summary>
    /// Releases the reader's file and gives its buffer back for reuse: the last record's payload must not be used after
    /// this. (A reader that is never disposed keeps its buffer, and a payload span keeps it alive on its own.) Idempotent.
    /// </summary>
    public void Dispose()
    {
        if (!_disposed)
        {
            _disposed = true;
            _cursor.Dispose();
        }
    }

    /// <summary>As <see cref="Dispose"/> (which does not block).</summary>
    public ValueTask DisposeAsync()
    {
        Dispose();
        return default;
    }

    private static LogHead ResolveHead(WalStorage storage, string directory, WalRecoveryMode mode) =>
        LogHeadFile.Resolve(storage, directory, mode, SegmentNames.List(storage, directory), out _)
            ?? throw new WalException($"'{directory}' is not a log directory: it holds no {LogHeadFile.FileName} and no segment file (*.wal).");

    private static LogCursor NewCursor(WalStorage storage, string directory, LogHead head, WalRecoveryMode mode, ulong from, bool classify)
    {
        // Every reader's cursor pauses where the files end for now. A snapshot reader judges what it cannot verify at once
        // (it ends there, or throws for damage the files prove); a live one reads only durable records, so anything it
        // cannot verify is damage, judged by the reader; a follow reader judges a write only once it stays unverifiable.
        var cursor = new LogCursor(storage, directory, head, RecoveryPolicy.ToleratesRepairableMarkers(mode), retryBeforeRefusing: mode)
        {
            Resumable = true,
            ClassifyPauses = classify,
            SkipBelowLsn = from,
        };

        // Start in the segment of `from`, found from the newest segment down: older ones are never opened.
        cursor.StartAtSegmentOf(from);
        return cursor;
    }

    private bool TryReadEntry(out WalEntry entry)
    {
        if (TryRead(out WalRecord record))
        {
            entry = new WalEntry(record.Lsn, record.Payload.ToArray());
            return true;
        }

        entry = default;
        return false;
    }

    private static WalReadStop StopOf((string Path, long Offset, string Reason) at) => new() { SegmentPath = at.Path, Offset = at.Offset, Reason = at.Reason };

    private WalRecord Current() => new(new Lsn(_cursor.CurrentLsn), _cursor.CurrentPayload);

    /// <summary>A live reader: whether a TruncateAfter made since its cursor was made is still running, or done (TryRead then resyncs first).</summary>
    private LiveCut CutState()
    {
        long generation = _log!.CutGeneration;
        return (generation & 1) != 0 ? LiveCut.Running : _resyncPending || generation != _generation ? LiveCut.Done : LiveCut.None;
    }

    /// <summary>The LSN that must be durable for a live reader's next <see cref="TryRead"/> to return a record.</summary>
    private ulong NextTarget() => Math.Max(_next, _cursor.NextLsn);

    /// <summary>A follow or snapshot reader: whether a record is ready (read ahead, kept for the next TryRead); <paramref name="more"/> false when none will ever come.</summary>
    private bool HasRecordNow(out bool more)
    {
        more = true;
        if (_pending || Advance())
        {
            _pending = true;
            return true;
        }

        more = _follow && !_ended;
        return false;
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<bool> WaitLiveAsync(CancellationToken cancellationToken)
    {
        WriteAheadLog log = _log!;
        while (true)
        {
            LiveCut cut = CutState();
            if (cut == LiveCut.Running)
            {
                await Task.Delay(1, cancellationToken).ConfigureAwait(false); // a TruncateAfter is being made: rare, may allocate
                continue;
            }

            ulong target = NextTarget();
            if (cut == LiveCut.Done || log.DurableLsn.Value >= target)
            {
                return true;
            }

            try
            {
                await log.Watermark.WaitWithoutResultAsync(new Lsn(target), cancellationToken).ConfigureAwait(false);
            }
            catch (ObjectDisposedException)
            {
                return log.DurableLsn.Value >= target; // the log was disposed: what was durable stays readable
            }
            catch (WalTruncatedException)
            {
                // The wait's LSN was dropped by a TruncateAfter: the next check resyncs or throws for this reader.
                continue;
            }

            return true;
        }
    }

    private async ValueTask<bool> PollAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            await Task.Delay(_pollInterval, cancellationToken).ConfigureAwait(false);
            if (HasRecordNow(out bool more))
            {
                return true;
            }

            if (!more)
            {
                return false;
            }
        }
    }

    /// <summary>Moves the cursor to the next record to return; false when there is none (for now, or for good: <see cref="_ended"/>).</summary>
    private bool Advance()
    {
        if (_log?.Watermark.Fault is { } fault)
        {
            // As every call of a faulted log: what the reader would read may be what a failed write or cut left (found by
            // review: after a TruncateAfter that failed once wal.head recorded it, the reader read on into the records the
            // next open drops). Reopen the log (recovery), or read its files with a snapshot reader.
            throw new WalException($"The log is faulted: its live readers read no more: {fault.Message}. Reopen it to recover.", fault);
        }

        if (_resyncPending && !Resync())
        {
            return false;
        }

        while (!_ended)
        {
            if (_cursor.MoveNext())
            {
                ulong lsn = _cursor.CurrentLsn;
                if (lsn < _next)
                {
                    continue;
                }

                if (_log is not null && _log.CutGeneration != _generation)
                {
                    // A TruncateAfter ran (or runs) since these bytes were read: they may be records it dropped.
                    if (!Resync())
                    {
                        return false;
                    }

                    continue;
                }

                if (_log is null && _cursor.FileReads != _checkedReads && !HeadStillHolds())
                {
                    // Bytes read since the reader last looked at wal.head, and a TruncateAfter was made meanwhile: they
                    // may be of the log before it, after it, or both. The cursor was replaced (or the call throws).
                    continue;
                }

                _next = lsn + 1;
                _lastReturned = lsn;
                StoppedAtUnverifiedWrite = false;
                StoppedAt = null;
                return true;
            }

            if (_log is not null ? !AfterLivePause() : !AfterFilePause())
            {
                return false;
            }
        }

        return false;
    }

    /// <summary>A live reader's cursor stopped: true to read on (bound raised, or resynced), false for none now.</summary>
    private bool AfterLivePause()
    {
        WriteAheadLog log = _log!;
        if (log.CutGeneration != _generation)
        {
            return Resync();
        }

        switch (_cursor.Paused)
        {
            case CursorPause.Bound:
                // Acquire (DurableLsn): every write up to the new bound returned before it was published, so the bytes read
                // after this (afresh: Resume invalidates the buffer) hold those batches whole.
                ulong durable = log.DurableLsn.Value;
                if (durable < _cursor.NextLsn)
                {
                    return false;
                }

                _cursor.Resume(durable);
                return true;
            case CursorPause.End or CursorPause.Unverified:
                // Only durable records are read, so the log cannot end or be torn here: a truncation removed what the reader
                // needs, or the log is damaged.
                ThrowIfTruncatedAway(log.OldestLsn.Value);
                (string path, long offset, string reason) = _cursor.PausedAt;
                _ended = true;
                throw new WalCorruptionException(path, offset, $"LSN {_cursor.NextLsn} is durable but cannot be read: {reason}");
            default:
                ThrowIfTruncatedAway(log.OldestLsn.Value);
                _ended = true;
                throw _cursor.Damage?.ToException() ?? new WalCorruptionException(_directory, 0, $"the log ends before LSN {_cursor.NextLsn}, which is durable");
        }
    }

    /// <summary>A snapshot or follow reader's cursor stopped: true to read on, false for none (now, or for good).</summary>
    private bool AfterFilePause()
    {
        switch (_cursor.Paused)
        {
            case CursorPause.Bound:
                // A TruncateAfter was pending in wal.head when the reader opened: nothing above its LSN is part of the log.
                StoppedAtUnverifiedWrite = false;
                if (!_follow)
                {
                    _ended = true;
                }

                return _follow && RecheckHead();
            case CursorPause.End:
                StoppedAtUnverifiedWrite = false;
                StoppedAt = StopOf(_cursor.PausedAt);
                if (!_follow)
                {
                    _ended = true;
                    return false;
                }

                return RecheckHead();
            case CursorPause.Unverified:
                StoppedAtUnverifiedWrite = true;
                StoppedAt = StopOf(_cursor.PausedAt);
                if (!_follow)
                {
                    if (CutSinceLastLook())
                    {
                        return true; // a TruncateAfter rewrote these bytes: read on, bounded by it
                    }

                    _ended = true;
                    return false;
                }

                if (RecheckHead())
                {
                    return true;
                }

                JudgeIfStalled();
                return false;
            default:
                if (_cursor.Damage is not null && CutSinceLastLook())
                {
                    // Not damage: a TruncateAfter was rewriting these bytes (found by review: a snapshot reader reported
                    // the batch header it was rewriting as damaged). Read on, bounded by it.
                    return true;
                }

                _ended = true;
                if (_cursor.Damage is { } damage)
                {
                    ThrowIfTruncatedAway(ResolveHead(_storage, _directory, _mode).FirstLsn);
                    if (RecoveryPolicy.Decide(damage.Kind, _mode) == RecoveryAction.Refuse)
                    {
                        throw damage.ToException();
                    }

                    StoppedAtUnverifiedWrite = true; // damage this mode ends the log at (PointInTime)
                    StoppedAt = StopOf((damage.Path, damage.Offset, damage.Reason));
                }

                return false;
        }
    }

    /// <summary>
    /// A follow reader at the end for now: looks at <c>wal.head</c> for a truncation that concerns it, then lets the cursor
    /// read the files afresh on the next try. Returns true when the cursor was replaced and may read at once.
    /// </summary>
    private bool RecheckHead()
    {
        LogHead head = LookAtHead();
        ThrowIfTruncatedAway(head.FirstLsn);
        if (FollowCut(head))
        {
            return true;
        }

        _cursor.Resume(head.RewindPending ? head.RewindLsn : ulong.MaxValue);
        return false;
    }

    /// <summary>
    /// A file reader at a write it cannot verify, before it says so: true when <c>wal.head</c> shows a TruncateAfter since
    /// the reader last looked (made, or being made), and the cursor was replaced to read on from the next record.
    /// </summary>
    private bool CutSinceLastLook()
    {
        LogHead head = LookAtHead();
        return (head.RewindCount != _generation || head.RewindPending) && FollowCut(head);
    }

    /// <summary>
    /// A file reader that read bytes it has not seen since it last looked at <c>wal.head</c>: true when no TruncateAfter
    /// was made meanwhile (the record may be returned); false when one was, and the cursor was replaced.
    /// </summary>
    /// <exception cref="WalTruncatedException">The cut dropped records this reader returned, or the reader cannot tell.</exception>
    private bool HeadStillHolds()
    {
        return !FollowCut(LookAtHead());
    }

    /// <summary>
    /// A file reader looks at <c>wal.head</c> again, and notes how much of the files it had read by then. wal.head alone (no
    /// listing): it is written, write-through, before a cut touches any segment byte, so bytes of the log after a cut, once
    /// read, are never read with a head from before it.
    /// </summary>
    private LogHead LookAtHead()
    {
        LogHead head = LogHeadFile.ReadCurrent(_storage, _directory) ?? ResolveHead(_storage, _directory, _mode);
        _checkedReads = _cursor.FileReads;
        return head;
    }

    /// <summary>
    /// Follows the TruncateAfter calls <paramref name="head"/> shows since the reader last looked: none, false; one that
    /// dropped no record the reader returned (made, or being made), a new cursor from the next record (bounded by the cut
    /// while it is being made), true. Throws when a cut dropped a record the reader returned, or when several were made and
    /// the reader cannot tell (wal.head keeps the last cut's LSN only).
    /// </summary>
    private bool FollowCut(LogHead head)
    {
        bool bounded = _cursor.StopAfterLsn != ulong.MaxValue;
        if (head.RewindCount == _generation && (head.RewindPending || !bounded))
        {
            return false;
        }

        long cuts = head.RewindCount - _generation;
        if (_lastReturned > head.RewindLsn && cuts > 0)
        {
            throw new WalTruncatedException(new Lsn(_next), $"TruncateAfter({head.RewindLsn}) dropped records this reader had returned (up to LSN {_lastReturned}); open a new reader.");
        }

        if (cuts > 1 && _lastReturned > 0)
        {
            throw new WalTruncatedException(
                new Lsn(_next),
                $"{cuts} TruncateAfter calls were made since this reader last looked at {LogHeadFile.FileName}; the last kept the log up to LSN {head.RewindLsn}, and the reader cannot tell whether an earlier one dropped records it returned (up to LSN {_lastReturned}); open a new reader.");
        }

        // Nothing it returned was dropped: read on from the next record, afresh (bytes it holds may be of either log),
        // bounded by the cut while it is being made.
        _cursor.Dispose();
        _cursor = NewCursor(_storage, _directory, head, _mode, _next, classify: !_follow);
        if (head.RewindPending)
        {
            _cursor.StopAfterLsn = head.RewindLsn;
        }

        _generation = head.RewindCount;
        _checkedReads = -1;
        return true;
    }

    /// <summary>A follow reader stuck at the same unverifiable write for a second has it judged as recovery would (on the next try).</summary>
    private void JudgeIfStalled()
    {
        (string path, long offset, _) = _cursor.PausedAt;
        long now = Environment.TickCount64;
        if (_stalledAt != (path, offset))
        {
            _stalledAt = (path, offset);
            _stalledSince = now;
            _cursor.ClassifyPauses = false;
            return;
        }

        // Once judged a torn tail it pauses again: judge it again only after another second.
        _cursor.ClassifyPauses = now - _stalledSince >= (long)StallBeforeJudging.TotalMilliseconds;
        if (_cursor.ClassifyPauses)
        {
            _stalledSince = now;
        }
    }

    private void ThrowIfTruncatedAway(ulong oldest)
    {
        if (oldest > _next && oldest > _cursor.NextLsn)
        {
            throw new WalTruncatedException(new Lsn(_next), $"The reader needs LSN {_next}, but TruncateBefore removed it: the oldest LSN kept is {oldest}; open a new reader.");
        }
    }

    /// <summary>
    /// A live reader after a TruncateAfter: throws if it dropped records this reader returned; else reads on from the next
    /// record, afresh (bytes the reader holds may be of dropped records). Lock-free: false, and nothing read, while a cut
    /// is still being made (it may wait for an in-place payload writer, which may wait for this reader).
    /// </summary>
    private bool Resync()
    {
        WriteAheadLog log = _log!;
        long generation = log.CutGeneration;
        int resets = log.Lsns.Resets;
        LogHead head = log.PublishedHead;
        if ((generation & 1) != 0 || log.CutGeneration != generation)
        {
            _resyncPending = true; // a cut is running (or began while these were read): look again at the next try
            return false;
        }

        ulong cutAfter = log.Lsns.LowestResetSince(_resetsSeen);
        if (_lastReturned > cutAfter)
        {
            _ended = true;
            throw new WalTruncatedException(new Lsn(_next), $"TruncateAfter({cutAfter}) dropped records this reader had returned (up to LSN {_lastReturned}); open a new reader.");
        }

        ThrowIfTruncatedAway(head.FirstLsn);
        _cursor.Dispose();
        _cursor = NewCursor(_storage, _directory, head, WalRecoveryMode.TruncateTornTail, _next, classify: false);
        _cursor.StopAfterLsn = log.DurableLsn.Value;
        _generation = generation;
        _resetsSeen = resets;
        _resyncPending = false;
        return true;
    }
}

/// <summary>A live reader's view of TruncateAfter calls since its cursor was made.</summary>
internal enum LiveCut
{
    /// <summary>None.</summary>
    None,

    /// <summary>One is being made.</summary>
    Running,

    /// <summary>One was made: the reader resyncs before it reads on.</summary>
    Done,
}
