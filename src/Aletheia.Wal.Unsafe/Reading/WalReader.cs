using Aletheia.Wal.Reading;
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
    private readonly ulong _upTo;
    private bool _ended;

    private WalReader(LogCursor cursor, WalRecoveryMode mode, ulong from, ulong upTo)
    {
        _cursor = cursor;
        _mode = mode;
        _from = from;
        _upTo = upTo;
        cursor.SkipBelowLsn = from;
    }

    /// <summary>
    /// Opens a reader on a log directory, open by a writer or not, without taking its lock.
    /// </summary>
    /// <param name="directory">The log directory.</param>
    /// <param name="from">The first LSN to return (<see cref="Lsn.None"/>: from the oldest record kept).</param>
    /// <param name="mode">What a damaged log does to the reader: see <see cref="TryRead"/>.</param>
    /// <exception cref="DirectoryNotFoundException">The directory does not exist.</exception>
    /// <exception cref="WalException">The directory holds no log segment.</exception>
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

        var cursor = new LogCursor(storage, directory);
        try
        {
            if (cursor.Segments.Count == 0)
            {
                throw new WalException($"'{directory}' is not a log directory: it holds no segment file (*.wal).");
            }

            // Start at the last segment whose first LSN is at or below `from`; refuse an LSN truncated away.
            int start = 0;
            ulong oldest = 0;
            for (int i = 0; i < cursor.Segments.Count; i++)
            {
                if (cursor.PeekHeader(i) is not { } header)
                {
                    continue;
                }

                if (oldest == 0)
                {
                    oldest = header.FirstLsn;
                }

                if (header.FirstLsn <= from.Value)
                {
                    start = i;
                }
            }

            if (oldest != 0 && from.Value != 0 && from.Value < oldest)
            {
                throw new ArgumentOutOfRangeException(nameof(from), from.Value, $"LSN {from.Value} was truncated away: the oldest LSN kept is {oldest}.");
            }

            cursor.StartAt(start);
            return new WalReader(cursor, mode, from.Value, upTo);
        }
        catch
        {
            cursor.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Reads the next record. Returns false at the end of the log. The record's payload is valid until the next call; it
    /// points into the reader's buffer (not copied) when the record lies within one buffer read.
    /// </summary>
    /// <exception cref="WalCorruptionException">
    /// The log is damaged (with the segment's path and the offset of the first bad byte): any damage in
    /// <see cref="WalRecoveryMode.Strict"/>; damage followed by valid records in <see cref="WalRecoveryMode.TruncateTornTail"/>
    /// (a torn tail, or a write still in progress, ends the log instead). <see cref="WalRecoveryMode.PointInTime"/> ends the
    /// log at the first damage. Never another exception type for damage, never a record whose checksum does not match.
    /// </exception>
    public bool TryRead(out WalRecord record)
    {
        record = default;
        while (!_ended)
        {
            if (!_cursor.MoveNext())
            {
                _ended = true;
                if (_cursor.Damage is { } damage && (_mode == WalRecoveryMode.Strict || (_mode == WalRecoveryMode.TruncateTornTail && !damage.IsTornTail)))
                {
                    throw damage.ToException();
                }

                return false;
            }

            ulong lsn = _cursor.CurrentLsn;
            if (lsn > _upTo)
            {
                _ended = true;
                return false;
            }

            if (lsn < _from)
            {
                continue;
            }

            byte* frame = _cursor.CurrentFrame;
            record = new WalRecord(new Lsn(lsn), new ReadOnlySpan<byte>(frame + FrameHeader.Size, (int)((FrameHeader*)frame)->PayloadLength));
            return true;
        }

        return false;
    }

    /// <summary>Releases the reader's buffer and file.</summary>
    public void Dispose() => _cursor.Dispose();
}
