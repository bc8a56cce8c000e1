/* main.c - capture-corpusd (being written in this session). */
#include <stdio.h>

int main(void)
{
	fputs("capture-corpusd: not built yet\n", stderr);
	return 1;
}
