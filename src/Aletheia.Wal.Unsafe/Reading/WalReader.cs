using Aletheia.Wal.Reading;
using Aletheia.Wal.Recovery;
using Aletheia.Wal.Storage;

namespace Aletheia.Wal;

/// <summary>
/// Reads a log's records in LSN order, with exactly the bytes appended, streaming (one buffer, never the whole log).
/// Takes no lock: it may read a directory a writer is appending to, up to what is on disk. Not thread-safe.
/// </summary>
public sealed unsafe class WalReader : IDisposable
{
    private readonly LogCursor _cursor;
    private readonly WalRecoveryMode _mode;
    private readonly ulong _from;
    private bool _ended;
    private bool _disposed;

    private WalReader(LogCursor cursor, WalRecoveryMode mode, ulong from)
    {
        _cursor = cursor;
        _mode = mode;
        _from = from;
        cursor.SkipBelowLsn = from;
    }

    /// <summary>
    /// Opens a reader on a log directory, open by a writer or not, without taking its lock.
    /// </summary>
    /// <param name="directory">The log directory.</param>
    /// <param name="from">The first LSN to return (<see cref="Lsn.None"/>: from the oldest record kept).</param>
    /// <param name="mode">What a damaged log does to the reader: see <see cref="TryRead"/>.</param>
    /// <exception cref="DirectoryNotFoundException">The directory does not exist.</exception>
    /// <exception cref="WalException">The directory holds no log, or a log of another on-disk format version.</exception>
    /// <exception cref="WalCorruptionException">The log's <c>wal.head</c> is missing or unreadable (see native-layout.md).</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="from"/> lies below the oldest LSN kept (truncated away).</exception>
    public static WalReader Open(string directory, Lsn from = default, WalRecoveryMode mode = WalRecoveryMode.TruncateTornTail) =>
        Open(WalStorage.Files, directory, from, mode, ulong.MaxValue);

    internal static WalReader Open(WalStorage storage, string directory, Lsn from, WalRecoveryMode mode, ulong upTo)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        if (!Directory.Exists(directory))
        {
            throw new DirectoryNotFoundException($"The log directory '{directory}' does not exist.");
        }

        List<ulong> segments = SegmentNames.List(storage, directory);
        LogHead head = LogHeadFile.Resolve(storage, directory, mode, segments, out _)
            ?? throw new WalException($"'{directory}' is not a log directory: it holds no {LogHeadFile.FileName} and no segment file (*.wal).");
        if (from.Value != 0 && from.Value < head.FirstLsn)
        {
            throw new ArgumentOutOfRangeException(nameof(from), from.Value, $"LSN {from.Value} was truncated away: the oldest LSN kept is {head.FirstLsn}.");
        }

        var cursor = new LogCursor(storage, directory, head, RecoveryPolicy.ToleratesRepairableMarkers(mode), retryBeforeRefusing: mode)
        {
            StopAfterLsn = upTo,
        };

        // Start at the last segment whose first LSN is at or below `from`; its header is checked again when it is read.
        foreach (ulong number in cursor.Segments)
        {
            if (number > head.Segment && cursor.PeekHeader(number) is { } header && header.FirstLsn <= from.Value)
            {
                cursor.StartAt(number, header.FirstLsn);
            }
        }

        return new WalReader(cursor, mode, from.Value);
    }

    /// <summary>
    /// Reads the next record. Returns false at the end of the log. The record's payload is valid until the next call.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The reader is disposed.</exception>
    /// <exception cref="WalCorruptionException">
    /// The log is damaged (with the file's path and the offset of the first bad byte, within the damaged write): any
    /// damage in <see cref="WalRecoveryMode.Strict"/>, an interrupted last write included; in
    /// <see cref="WalRecoveryMode.TruncateTornTail"/> damage that is not an interrupted last write (a later write follows
    /// it, or the file was cut short). An interrupted last write ends the log in TruncateTornTail, and
    /// <see cref="WalRecoveryMode.PointInTime"/> ends the log at the first damaged write. Never another exception type for
    /// damage, never a record whose checksum does not match.
    /// </exception>
    public bool TryRead(out WalRecord record)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        record = default;
        while (!_ended)
        {
            if (!_cursor.MoveNext())
            {
                _ended = true;
                if (_cursor.Damage is { } damage && RecoveryPolicy.Decide(damage.Kind, _mode) == RecoveryAction.Refuse)
                {
                    throw damage.ToException();
                }

                return false;
            }

            ulong lsn = _cursor.CurrentLsn;
            if (lsn < _from)
            {
                continue;
            }

            record = new WalRecord(new Lsn(lsn), _cursor.CurrentPayload);
            return true;
        }

        return false;
    }

    /// <summary>
    /// Releases the reader's file and gives its buffer back for reuse: the last record's payload must not be used after
    /// this. (A reader that is never disposed keeps its buffer, and a payload span keeps it alive on its own.)
    /// </summary>
    public void Dispose()
    {
        if (!_disposed)
        {
            _disposed = true;
            _cursor.Dispose();
        }
    }
}
