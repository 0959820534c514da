namespace Aletheia.Wal.Tests.Support;

/// <summary>Reads a whole log back with a <see cref="WalReader"/>, copying every record.</summary>
internal static class LogContents
{
    public static List<(ulong Lsn, byte[] Payload)> ReadAll(string directory, WalRecoveryMode mode = WalRecoveryMode.TruncateTornTail)
    {
        var records = new List<(ulong, byte[])>();
        using WalReader reader = WalReader.Open(directory, Lsn.None, mode);
        while (reader.TryRead(out WalRecord record))
        {
            records.Add((record.Lsn.Value, record.Payload.ToArray()));
        }

        return records;
    }

    public static void AssertContiguousFrom(IReadOnlyList<(ulong Lsn, byte[] Payload)> records, ulong first)
    {
        for (int i = 0; i < records.Count; i++)
        {
            Xunit.Assert.True(records[i].Lsn == first + (ulong)i, $"LSNs run on without a hole: record {i} has LSN {records[i].Lsn}, expected {first + (ulong)i}.");
        }
    }
}
