using System.Buffers.Binary;
using RocksDbSharp;

namespace Aletheia.Wal.Perf.Load;

/// <summary>
/// RocksDB (NuGet <c>RocksDB</c> 11.12, RocksDbSharp) used as a log, default options: each record is a <c>Put</c> under the
/// next 8-byte big-endian sequence number (one atomic counter), so keys arrive in order. Durable: <c>Put</c> with
/// <see cref="WriteOptions.SetSync(bool)"/> true (RocksDB groups concurrent sync writers into one WAL write and fsync).
/// Burst: <c>Put</c> without sync, then one <c>rocksdb_flush_wal(sync: true)</c>. There is no asynchronous write.
/// </summary>
public sealed class RocksDbLog : IDurableLog, IBurstLog
{
    private readonly string _path;
    private readonly DbOptions _options;
    private readonly WriteOptions _durable;
    private readonly WriteOptions _buffered;
    private RocksDb _db;
    private long _lastKey; // the last sequence number handed out; the first record's key is 1

    public RocksDbLog(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        _path = Path.Combine(directory, "rocksdb");
        _options = new DbOptions().SetCreateIfMissing(true);
        _durable = new WriteOptions().SetSync(true);
        _buffered = new WriteOptions().SetSync(false);
        _db = RocksDb.Open(_options, _path);
    }

    public string Name => "rocksdb";

    public void AppendDurable(ReadOnlySpan<byte> payload) => Put(payload, _durable);

    public void Append(ReadOnlySpan<byte> payload) => Put(payload, _buffered);

    public void Flush() => RocksDbSharp.Native.Instance.rocksdb_flush_wal(_db.Handle, 1);

    /// <summary>Reopens the database: the last key holds a record of the right size, and there is no key after it.</summary>
    public string Verify(long records, int payloadBytes)
    {
        _db.Dispose();
        _db = RocksDb.Open(_options, _path);
        Span<byte> key = stackalloc byte[sizeof(long)];
        BinaryPrimitives.WriteInt64BigEndian(key, records);
        byte[]? last = _db.Get(key, null, null);
        BinaryPrimitives.WriteInt64BigEndian(key, records + 1);
        byte[]? next = _db.Get(key, null, null);
        if (last is null || last.Length != payloadBytes || next is not null)
        {
            throw new InvalidDataException(
                $"After reopening, key {records} holds {(last is null ? "nothing" : last.Length + " bytes")} (expected {payloadBytes}) and key {records + 1} {(next is null ? "nothing" : "a value")} (expected nothing).");
        }

        return $"reopened: key {records:N0} holds {payloadBytes} B, key {records + 1:N0} nothing";
    }

    public void Dispose() => _db.Dispose();

    private void Put(ReadOnlySpan<byte> payload, WriteOptions options)
    {
        Span<byte> key = stackalloc byte[sizeof(long)];

        // Only uniqueness and order of the keys matter; the increment orders nothing else.
        BinaryPrimitives.WriteInt64BigEndian(key, Interlocked.Increment(ref _lastKey));
        _db.Put(key, payload, null, options);
    }
}
