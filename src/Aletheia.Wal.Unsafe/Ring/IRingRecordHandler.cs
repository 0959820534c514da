namespace Aletheia.Wal.Ring;

/// <summary>Receives records from <see cref="ByteRing.Drain{THandler}"/>; a struct, so the call is not virtual and allocates nothing.</summary>
internal interface IRingRecordHandler
{
    /// <summary>Called for each published record in ring order. The span is valid only during the call.</summary>
    void OnRecord(ReadOnlySpan<byte> body);
}
